// Small DOM helpers: elements, tables, forms with labels, messages in words.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// columns: [{label, key?, amount?}]; rows: arrays of cell values (text or Node).
export function table(id, caption, columns, rows, { empty = "Nothing yet." } = {}) {
  const head = el("tr", {}, columns.map((c) => el("th", { scope: "col", class: c.amount ? "amount" : null }, c.label)));
  const body = el("tbody");
  for (const row of rows) {
    const tr = el("tr", row.attrs || {});
    (row.cells || row).forEach((value, i) => {
      const column = columns[i] || {};
      tr.append(el("td", { class: column.amount ? "amount" : null, "data-label": column.label || null },
        value === null || value === undefined ? "" : value));
    });
    body.append(tr);
  }
  const wrap = el("div", { class: "table-wrap" },
    el("table", { id }, caption ? el("caption", {}, caption) : null, el("thead", {}, head), body));
  if (!rows.length) wrap.append(el("p", { class: "empty" }, empty));
  return wrap;
}

export function section(id, title, ...children) {
  return el("section", { id, "aria-labelledby": id + "-title" }, el("h2", { id: id + "-title" }, title), ...children);
}

// A message area that a screen reader announces.
export function message(id) { return el("p", { id, class: "message", role: "status", "aria-live": "polite" }); }

export function say(node, text, isError = false) {
  node.textContent = text || "";
  node.classList.toggle("error", !!isError);
  if (isError) node.setAttribute("role", "alert"); else node.setAttribute("role", "status");
}

let uid = 0;
// fields: [{name, label, type?, options?: [[value, text]], required?, min?, step?, value?, pattern?, hint?}]
export function form(id, legend, fields, submitText, onSubmit) {
  const note = message(id + "-message");
  const inputs = {};
  const rows = fields.map((f) => {
    const inputId = `${id}-${f.name}`;
    let input;
    if (f.options) {
      input = el("select", { id: inputId, name: f.name, required: f.required });
      for (const [value, text] of f.options) input.append(el("option", { value }, text));
      if (f.value !== undefined) input.value = f.value;
    } else if (f.type === "checkbox") {
      input = el("input", { id: inputId, name: f.name, type: "checkbox", checked: f.value });
    } else {
      input = el("input", {
        id: inputId, name: f.name, type: f.type || "text", required: f.required, min: f.min,
        max: f.max, step: f.step, pattern: f.pattern, value: f.value, inputmode: f.inputmode,
        autocomplete: f.autocomplete || "off", placeholder: f.placeholder,
      });
    }
    inputs[f.name] = input;
    const hintId = f.hint ? `hint-${++uid}` : null;
    if (hintId) input.setAttribute("aria-describedby", hintId);
    return el("div", { class: "field" }, el("label", { for: inputId }, f.label), input,
      f.hint ? el("small", { id: hintId }, f.hint) : null);
  });
  const button = el("button", { type: "submit", id: id + "-submit" }, submitText);
  const node = el("form", { id, class: "card", novalidate: false },
    el("fieldset", {}, el("legend", {}, legend), ...rows, button), note);
  node.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    say(note, "Working…");
    // A view may redraw itself on success: the message goes to the form now on the page.
    const current = () => document.getElementById(note.id) || note;
    try {
      const text = await onSubmit(values(fields, inputs), inputs);
      say(current(), text || "Done.");
    } catch (e) {
      say(current(), e.message, true);
    } finally {
      button.disabled = false;
    }
  });
  node.inputs = inputs;
  return node;
}

function values(fields, inputs) {
  const out = {};
  for (const f of fields) {
    const input = inputs[f.name];
    if (f.type === "checkbox") out[f.name] = input.checked;
    else if (input.value === "" && !f.required) out[f.name] = undefined;
    else if (f.type === "number" && f.integer) out[f.name] = Number(input.value);
    else out[f.name] = input.value;
  }
  return out;
}

export function button(text, onClick, attrs = {}) {
  return el("button", Object.assign({ type: "button", onclick: onClick }, attrs), text);
}

export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" });
}

export function ago(iso, now = Date.now()) {
  if (!iso) return "never";
  const s = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

export function money(text) { return text === null || text === undefined ? "" : String(text); }

// node.append that skips the null and false a conditional part leaves.
export function append(node, ...children) {
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}
