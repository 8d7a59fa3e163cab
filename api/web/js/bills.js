// The treasurer's view: tariffs, enter a bill, run the split, review it, close it, export.
import { api, download } from "./api.js";
import { append, button, el, form, message, say, section, table, when } from "./dom.js";

const POOLS = ["energy", "demand", "common", "heating"];
const cents = (text) => Math.round(Number(text || 0) * 100);
const euros = (c) => (c < 0 ? "-" : "") + (Math.abs(c) / 100).toFixed(2);

function tariffForm(onDone) {
  return form("tariff-form", "New tariff", [
    { name: "name", label: "Name", required: true, value: "two-band" },
    { name: "demand_method", label: "Demand charge shared by", options: [["shapley", "Shapley value"], ["coincident_peak", "coincident peak"]] },
    { name: "peak_from", label: "Peak band from (HH:MM)", value: "08:00", pattern: "\\d{2}:\\d{2}", hint: "Leave peak hours empty for a one-band tariff." },
    { name: "peak_to", label: "Peak band to (HH:MM)", value: "20:00", pattern: "\\d{2}:\\d{2}" },
    { name: "peak_days", label: "Peak weekdays (1 = Monday)", value: "1,2,3,4,5", pattern: "[1-7](,[1-7])*" },
  ], "Add tariff", async (v) => {
    const bands = v.peak_from && v.peak_to
      ? [{ name: "peak", hours: { from: v.peak_from, to: v.peak_to, weekdays: (v.peak_days || "1,2,3,4,5").split(",").map(Number) } }, { name: "offpeak" }]
      : [{ name: "all" }];
    const tariff = await api("/tariffs", { method: "POST", json: { name: v.name, demand_method: v.demand_method, bands } });
    await onDone();
    return `Tariff ${tariff.name} added (bands ${tariff.bands.map((b) => b.name).join(", ")}).`;
  });
}

function billForm(tariffs, onDone) {
  const box = el("div", { id: "bill-entry" });
  const kind = el("select", { id: "bill-kind" }, el("option", { value: "electricity" }, "Electricity"), el("option", { value: "gas" }, "Gas"));
  const tariffPick = el("select", { id: "bill-tariff" }, tariffs.map((t) => el("option", { value: t.id }, t.name)));
  const holder = el("div");
  const build = () => {
    holder.textContent = "";
    if (kind.value === "gas") {
      append(holder, form("gas-form", "Gas bill", [
        { name: "period_start", label: "First day", type: "date", required: true },
        { name: "period_end", label: "Last day", type: "date", required: true },
        { name: "cost", label: "Total cost", type: "number", step: "0.01", min: "0", required: true, inputmode: "decimal" },
        { name: "alpha", label: "Share by area (0 to 1; the rest by degree-hours)", type: "number", step: "0.01", min: "0", max: "1", value: "0.5" },
        { name: "reference", label: "Supplier's invoice number" },
      ], "Save gas bill", async (v) => {
        const bill = await api("/gas-bills", { method: "POST", json: v });
        await onDone();
        return `Gas bill ${bill.id} saved.`;
      }));
      return;
    }
    const tariff = tariffs.find((t) => String(t.id) === tariffPick.value);
    if (!tariff) { append(holder, el("p", {}, "Add a tariff first: a bill is priced by its bands.")); return; }
    const bandFields = tariff.bands.flatMap((b) => [
      { name: `kwh_${b.name}`, label: `${b.name}: kWh`, type: "number", step: "0.001", min: "0", required: true, inputmode: "decimal" },
      { name: `cost_${b.name}`, label: `${b.name}: cost`, type: "number", step: "0.01", min: "0", required: true, inputmode: "decimal" },
    ]);
    append(holder, form("bill-form", `Electricity bill (${tariff.name})`, [
      { name: "period_start", label: "First day", type: "date", required: true },
      { name: "period_end", label: "Last day", type: "date", required: true },
      ...bandFields,
      { name: "demand_cost", label: "Demand charge", type: "number", step: "0.01", min: "0", value: "0", inputmode: "decimal" },
      { name: "fixed_cost", label: "Fixed charges", type: "number", step: "0.01", min: "0", value: "0", inputmode: "decimal" },
      { name: "vacancy_policy", label: "Empty units' share goes to", options: [["owner", "the owner (vacancy account)"], ["redistribute", "the occupied units"]] },
      { name: "reference", label: "Supplier's invoice number" },
    ], "Save bill", async (v) => {
      const body = {
        tariff_id: tariff.id, period_start: v.period_start, period_end: v.period_end,
        bands: tariff.bands.map((b) => ({ name: b.name, kwh: v[`kwh_${b.name}`], cost: v[`cost_${b.name}`] })),
        demand_cost: v.demand_cost || "0", fixed_cost: v.fixed_cost || "0", vacancy_policy: v.vacancy_policy,
      };
      if (v.reference) body.reference = v.reference;
      const bill = await api("/bills", { method: "POST", json: body });
      await onDone(bill.id);
      return `Bill ${bill.id} saved: run its split below.`;
    }));
  };
  kind.addEventListener("change", build);
  tariffPick.addEventListener("change", build);
  append(box, 
    el("div", { class: "field" }, el("label", { for: "bill-kind" }, "Kind of bill"), kind),
    el("div", { class: "field" }, el("label", { for: "bill-tariff" }, "Tariff"), tariffPick),
    holder);
  build();
  return box;
}

function reconciliation(result) {
  const rows = (result.reconciliation || []).map((r) => [r.band, r.bill_kwh, r.measured_kwh, r.estimated_kwh, r.main_meter_kwh ?? "no meter", r.factor === "1" ? "–" : r.factor]);
  return table("reconciliation", "Reconciliation per band (kWh)", [{ label: "Band" }, { label: "Bill", amount: true }, { label: "Measured", amount: true },
    { label: "Estimated", amount: true }, { label: "Main meter", amount: true }, { label: "Scaled by", amount: true }], rows);
}

async function previousTotals(bills, bill) {
  const earlier = bills.filter((b) => b.period_start < bill.period_start);
  if (!earlier.length) return null;
  const prev = earlier[earlier.length - 1];
  const runs = await api(`/bills/${prev.id}/splits`);
  if (!runs.length) return null;
  const run = await api(`/splits/${runs[runs.length - 1].id}`);
  const out = {};
  for (const [code, st] of Object.entries(run.result.members)) out[code] = cents(st.total);
  out.vacancy = cents(run.result.vacancy);
  return out;
}

async function review(box, bills, billId, members, refresh) {
  box.textContent = "";
  const bill = bills.find((b) => String(b.id) === String(billId));
  if (!bill) return;
  const note = message("review-message");
  const closed = !!bill.closed_at;
  const run = async () => {
    try {
      await api(`/bills/${bill.id}/splits`, { method: "POST", json: {} });
      await review(box, bills, bill.id, members, refresh);
      say(box.querySelector("#review-message"), "Split run.");
    } catch (e) { say(note, e.message, true); }
  };
  append(box, el("h3", {}, `Bill ${bill.id}: ${bill.period_start} to ${bill.period_end}` + (closed ? ` (closed ${when(bill.closed_at)})` : "")),
    closed ? null : button("Run the split", run, { id: "run-split" }), note);
  const runs = await api(`/bills/${bill.id}/splits`);
  if (!runs.length) { append(box, el("p", { id: "no-split" }, "No split yet for this bill.")); return; }
  const latest = await api(`/splits/${runs[runs.length - 1].id}`);
  const result = latest.result;
  const before = await previousTotals(bills, bill);
  const estimated = new Set((result.estimates || {}).members || []);
  const rows = Object.entries(result.members).map(([code, st]) => [code, st]);
  rows.push(["vacancy", result.vacancy_statement]);
  const byCode = Object.fromEntries(members.map((m) => [m.code, m]));
  append(box, 
    el("p", { id: "split-note", class: result.held ? "held" : null },
      `Split ${latest.id}, run ${when(latest.created_at)}: total ${result.total}` +
      (result.held ? ". HELD: members do not see it until a split within the tolerance is run." : ".")),
    result.alerts && result.alerts.length
      ? el("ul", { id: "split-alerts" }, result.alerts.map((a) => el("li", { class: a.hold ? "held" : null }, `${a.hold ? "Holds: " : ""}${a.message}`)))
      : null,
    reconciliation(result),
    table("split", "Shares per member", [{ label: "Member" }, ...POOLS.map((p) => ({ label: p, amount: true })), { label: "Total", amount: true },
      { label: "vs last bill", amount: true }, { label: "Flags" }, { label: "Statement" }],
    rows.map(([code, st]) => {
      const total = cents(st.total);
      const diff = before && code in before ? euros(total - before[code]) : "new";
      const flags = [estimated.has(code) || st.estimated ? "estimated" : "", result.held ? "held" : ""].filter(Boolean).join(", ");
      const member = byCode[code];
      const pdf = member ? button("PDF", async () => {
        try { await download(`/splits/${latest.id}/statements/${member.id}/pdf`, `statement-${code}.pdf`); } catch (e) { say(note, e.message, true); }
      }, { "aria-label": `PDF statement of ${code}`, dataset: { member: code } }) : "";
      return { attrs: { dataset: { member: code }, class: flags ? "flagged" : null },
        cells: [code, ...POOLS.map((p) => (st.pools || {})[p] || "0.00"), st.total, diff, flags, pdf] };
    })),
    el("p", {}, el("strong", {}, "Total "), el("span", { id: "split-total" }, result.total), ` (bill: ${billTotal(bill)})`),
    el("div", { id: "split-lines" }, rows.map(([code, st]) => lines(code, st))),
    el("div", { class: "buttons" },
      button("Download CSV (all members)", async () => {
        try { await download(`/splits/${latest.id}/csv`, `split-${latest.id}.csv`); } catch (e) { say(note, e.message, true); }
      }, { id: "csv" }),
      closed || result.held ? null : button("Close the bill", async () => {
        if (!window.confirm(`Close bill ${bill.id}? Its splits never change again.`)) return;
        try { await api(`/bills/${bill.id}/close`, { method: "POST" }); await refresh(bill.id); say(document.getElementById("review-message"), "Bill closed."); } catch (e) { say(note, e.message, true); }
      }, { id: "close-bill" })),
    // A held split reaches no member: closing over it takes a reason, kept in the audit log.
    closed || !result.held ? null : form("override-form", "Close over the hold", [
      { name: "override_held", label: "Why close it with this split anyway (kept in the audit log)", required: true },
    ], "Close the bill over the hold", async (v) => {
      await api(`/bills/${bill.id}/close`, { method: "POST", json: { override_held: v.override_held } });
      await refresh(bill.id);  // the form is gone now: the review says it
      say(document.getElementById("review-message"), "Bill closed over the hold.");
      return "Bill closed over the hold.";
    }));
}

// Each member's lines, estimated ones flagged: what the treasurer checks before closing.
function lines(code, st) {
  const estimated = (st.lines || []).filter((l) => /estimat/i.test(`${l.basis} ${l.note}`)).length;
  return el("details", { class: "member-lines", dataset: { member: code } },
    el("summary", {}, `${code}: ${st.lines.length} lines, ${st.total}` + (estimated ? ` (${estimated} estimated)` : "")),
    table(null, null, [{ label: "Pool" }, { label: "Line" }, { label: "Basis" }, { label: "Amount", amount: true }],
      st.lines.map((l) => ({ attrs: { class: /estimat/i.test(`${l.basis} ${l.note}`) ? "flagged" : null },
        cells: [l.pool, l.note || `${l.item}: ${l.quantity} ${l.unit}`, l.basis, l.amount] }))));
}

function billTotal(bill) {
  const total = bill.bands.reduce((s, b) => s + cents(b.cost), 0) + cents(bill.demand_cost) + cents(bill.fixed_cost);
  return euros(total);
}

export async function render(root) {
  const reviewBox = el("div", { id: "review" });
  const list = el("div", { id: "bill-list" });
  const entry = el("div");
  const members = await api("/members");
  let tariffs = await api("/tariffs");
  const refresh = async (selected) => {
    const bills = await api("/bills");
    list.textContent = "";
    const pick = el("select", { id: "bill" }, bills.map((b) => el("option", { value: b.id }, `${b.period_start} to ${b.period_end}${b.closed_at ? " (closed)" : ""}`)));
    append(list, 
      table("bills", null, [{ label: "Bill" }, { label: "Period" }, { label: "Energy + demand + fixed", amount: true }, { label: "State" }],
        bills.map((b) => [String(b.id), `${b.period_start} to ${b.period_end}`, billTotal(b), b.closed_at ? "closed" : "open"])),
      bills.length ? el("div", { class: "field" }, el("label", { for: "bill" }, "Review bill"), pick) : null);
    pick.addEventListener("change", () => review(reviewBox, bills, pick.value, members, refresh));
    if (bills.length) {
      pick.value = selected || bills[bills.length - 1].id;
      await review(reviewBox, bills, pick.value, members, refresh);
    }
  };
  const rebuildEntry = async (billId) => {
    tariffs = await api("/tariffs");
    entry.textContent = "";
    append(entry, billForm(tariffs, async (id) => { await refresh(id); }), tariffForm(rebuildEntry));
    if (billId) await refresh(billId);
  };
  append(root, el("h2", {}, "Bills and splits"),
    section("bills-section", "Bills", list),
    section("review-section", "Review", reviewBox),
    section("enter-section", "Enter a bill", entry));
  await rebuildEntry();
  await refresh();
}
