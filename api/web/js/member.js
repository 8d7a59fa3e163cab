// A member's view: my sessions with kWh and an estimated cost, my machines, my statements.
import { api, download } from "./api.js";
import { append, button, el, message, say, section, table, when } from "./dom.js";

function cost(kwh, price) {
  if (kwh === null || kwh === undefined || !price) return "";
  return (kwh * Number(price)).toFixed(2);
}

async function sessions(box) {
  const [rows, price] = await Promise.all([api("/sessions"), api("/me/price")]);
  append(box, 
    table("sessions", null, [{ label: "Machine" }, { label: "Start" }, { label: "End" }, { label: "Minutes", amount: true },
      { label: "kWh", amount: true }, { label: "Estimated cost", amount: true }],
    rows.map((s) => [s.machine || s.device, when(s.start), s.end ? when(s.end) : "running", s.minutes, s.kwh === null ? "" : s.kwh.toFixed(3), cost(s.kwh, price.per_kwh)]),
    { empty: "No session in the last 30 days." }),
    el("p", { class: "hint" }, price.per_kwh
      ? `Estimated at ${price.per_kwh} per kWh, the energy price of the bill of ${price.period.start} to ${price.period.end}; your statement has the exact share.`
      : "No bill yet to estimate a cost with."));
}

async function machines(box) {
  const rows = await api("/me/machines");
  append(box, table("my-machines", null, [{ label: "Machine" }, { label: "Training valid until" }, { label: "Now" }],
    rows.map((m) => ({ attrs: { dataset: { machine: m.code, state: m.state } },
      cells: [m.name ? `${m.code} (${m.name})` : m.code, m.expired ? `expired ${m.expires_on}` : (m.expires_on || "no expiry"), m.state] })),
    { empty: "You are not trained on any machine yet." }));
}

async function statements(box) {
  const rows = await api("/me/statements");
  const note = message("statements-message");
  append(box, note);
  if (!rows.length) append(box, el("p", {}, "No statement yet."));
  for (const st of rows) {
    append(box, el("article", { class: "statement card", dataset: { split: st.split_id } },
      el("h3", {}, `${st.period.start} to ${st.period.end}: ${st.total}` + (st.closed ? "" : " (bill still open)")),
      st.explanation ? el("p", { class: "explanation" }, st.explanation) : null,
      table(null, null, [{ label: "Pool" }, { label: "Line" }, { label: "Basis" }, { label: "Amount", amount: true }],
        st.lines.map((l) => [l.pool, l.note || `${l.item}: ${l.quantity} ${l.unit}`, l.basis, l.amount])),
      button("Download PDF", async () => {
        try { await download(`/splits/${st.split_id}/statements/${st.member_id}/pdf`, "statement.pdf"); } catch (e) { say(note, e.message, true); }
      }, { class: "pdf", "aria-label": `PDF of the statement ${st.period.start} to ${st.period.end}` })));
  }
}

export async function render(root, me) {
  const mySessions = el("div", { id: "mine" });
  const myMachines = el("div", { id: "machines-box" });
  const myStatements = el("div", { id: "statements" });
  append(root, el("h2", {}, `${me.member.name} (${me.member.code})`),
    section("sessions-section", "My sessions (last 30 days)", mySessions),
    section("machines-section", "Machines I may use", myMachines),
    section("statements-section", "My statements", myStatements));
  const failed = [];
  await Promise.all([sessions(mySessions), machines(myMachines), statements(myStatements)].map((p) => p.catch((e) => failed.push(e.message))));
  if (failed.length) throw new Error(failed.join("; "));
}
