// Plain JS, no build step: log in, then show what the role may see.
"use strict";
const state = { token: sessionStorage.getItem("token"), me: null };

async function api(path, options = {}) {
  const headers = Object.assign({ "Content-Type": "application/json" }, options.headers || {});
  if (state.token) headers.Authorization = "Bearer " + state.token;
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail; } catch (e) { /* not JSON */ }
    throw new Error(detail);
  }
  return response.headers.get("content-type").includes("json") ? response.json() : response.text();
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text == null ? "" : String(text);
  if (cls) td.className = cls;
  row.appendChild(td);
}

async function showSessions() {
  const body = document.querySelector("#sessions tbody");
  body.textContent = "";
  for (const s of await api("/sessions")) {
    const tr = document.createElement("tr");
    cell(tr, s.machine || s.device);
    cell(tr, new Date(s.start).toLocaleString());
    cell(tr, s.end ? new Date(s.end).toLocaleString() : "running");
    cell(tr, s.minutes, "amount");
    cell(tr, s.kwh, "amount");
    body.appendChild(tr);
  }
}

async function showStatements() {
  const box = document.getElementById("statements");
  box.textContent = "";
  for (const st of await api("/me/statements")) {
    const div = document.createElement("div");
    div.className = "statement";
    div.dataset.split = st.split_id;
    const h = document.createElement("h3");
    h.textContent = `${st.period.start} to ${st.period.end}: ${st.total}` + (st.held ? " (held for review)" : "");
    div.appendChild(h);
    const table = document.createElement("table");
    for (const line of st.lines) {
      const tr = document.createElement("tr");
      cell(tr, line.note);
      cell(tr, line.amount, "amount");
      table.appendChild(tr);
    }
    div.appendChild(table);
    const pdf = document.createElement("a");
    pdf.textContent = "PDF";
    pdf.href = "#";
    pdf.onclick = (e) => { e.preventDefault(); download(`/splits/${st.split_id}/statements/${st.member_id}/pdf`, "statement.pdf"); };
    div.appendChild(pdf);
    box.appendChild(div);
  }
}

async function download(path, name) {
  const response = await fetch(path, { headers: { Authorization: "Bearer " + state.token } });
  const url = URL.createObjectURL(await response.blob());
  const a = document.createElement("a");
  a.href = url; a.download = name; a.click();
  URL.revokeObjectURL(url);
}

async function showSplit(billId) {
  const body = document.querySelector("#split tbody");
  const foot = document.querySelector("#split tfoot");
  body.textContent = ""; foot.textContent = "";
  const note = document.getElementById("split-note");
  const runs = await api(`/bills/${billId}/splits`);
  const csv = document.getElementById("csv");
  if (!runs.length) { note.textContent = "No split yet for this bill."; csv.hidden = true; return; }
  const run = await api(`/splits/${runs[runs.length - 1].id}`);
  const rows = Object.entries(run.result.members);
  rows.push(["vacancy", run.result.vacancy_statement]);
  for (const [code, st] of rows) {
    const tr = document.createElement("tr");
    tr.dataset.member = code;
    cell(tr, code);
    for (const pool of ["energy", "demand", "common", "heating"]) cell(tr, (st.pools || {})[pool] || "0.00", "amount");
    cell(tr, st.total, "amount");
    body.appendChild(tr);
  }
  const tr = document.createElement("tr");
  tr.id = "split-total";
  cell(tr, "Total"); for (let i = 0; i < 4; i++) cell(tr, "");
  cell(tr, run.result.total, "amount");
  foot.appendChild(tr);
  note.textContent = `Split ${run.id} of ${run.created_at}` + (run.result.held ? " (held: see alerts)" : "");
  csv.hidden = false;
  csv.onclick = (e) => { e.preventDefault(); download(`/splits/${run.id}/csv`, `split-${run.id}.csv`); };
}

async function showTreasurer() {
  const select = document.getElementById("bill");
  select.textContent = "";
  const bills = await api("/bills");
  for (const bill of bills) {
    const option = document.createElement("option");
    option.value = bill.id;
    option.textContent = `${bill.period_start} to ${bill.period_end}`;
    select.appendChild(option);
  }
  select.onchange = () => showSplit(select.value);
  if (bills.length) { select.value = bills[bills.length - 1].id; await showSplit(select.value); }
}

async function start() {
  document.getElementById("login").hidden = !!state.token;
  if (!state.token) return;
  try {
    state.me = await api("/me");
  } catch (e) {
    sessionStorage.removeItem("token"); state.token = null;
    document.getElementById("login").hidden = false;
    return;
  }
  document.getElementById("who").textContent = `${state.me.username} (${state.me.role})`;
  document.getElementById("logout").hidden = false;
  if (state.me.member) {
    document.getElementById("mine").hidden = false;
    await Promise.all([showSessions().catch(showError), showStatements()]);
  }
  if (state.me.role === "treasurer" || state.me.role === "admin") {
    document.getElementById("treasurer").hidden = false;
    await showTreasurer();
  }
  document.body.dataset.ready = "1";
}

function showError(e) { document.getElementById("login-error").textContent = e.message; }

document.getElementById("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const answer = await api("/auth/token", {
      method: "POST",
      body: JSON.stringify({ username: document.getElementById("username").value, password: document.getElementById("password").value }),
    });
    state.token = answer.access_token;
    sessionStorage.setItem("token", state.token);
    await start();
  } catch (e) { showError(e); }
});

document.getElementById("logout").addEventListener("click", async () => {
  try { await api("/auth/logout", { method: "POST" }); } catch (e) { /* already gone */ }
  sessionStorage.removeItem("token"); location.reload();
});

start().catch(showError);
