// The coordinator's view: the building now, alerts to acknowledge, charts, alert history.
import { api } from "./api.js";
import { ago, append, button, el, message, say, section, table, when } from "./dom.js";
import { draw } from "./charts.js";

const RANGES = [["24h", "24 hours"], ["7d", "7 days"], ["30d", "30 days"], ["365d", "A year"]];

function degrees(value) { return value === null || value === undefined ? "–" : `${value.toFixed(1)} °C`; }

function evidence(rows) {
  if (!rows || !rows.length) return el("p", {}, "No readings kept.");
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const shown = rows.slice(-12);
  const grid = table(null, null, keys.map((k) => ({ label: k.replace(/^t_/, "") })),
    shown.map((r) => keys.map((k) => (k === "time" && r[k] ? when(new Date(r[k]).toISOString()) : r[k]))));
  grid.querySelector("table").classList.add("grid");
  // Open on a desktop; on a phone one tap away, so that the alerts fit the screen.
  return el("details", { class: "evidence", open: window.innerWidth >= 640 },
    el("summary", {}, `Evidence: the ${shown.length === rows.length ? "" : `last ${shown.length} of the `}${rows.length} readings that made it fire`), grid);
}

function alertCard(alert, me, refresh) {
  const note = message(`ack-${alert.id}-message`);
  const card = el("article", { class: `card alert ${alert.severity}`, dataset: { alert: alert.id, state: alert.state } },
    el("h3", {}, alert.summary),
    el("p", {}, `${alert.kind} on ${alert.device} · ${alert.state} · fired ${when(alert.fired_at)} · ${alert.occurrences} times`),
    alert.acknowledged_by ? el("p", {}, `Acknowledged by ${alert.acknowledged_by} ${when(alert.acknowledged_at)}`) : null,
    evidence(alert.evidence));
  if (alert.state !== "acknowledged" && ["coordinator", "admin"].includes(me.role)) {
    append(card, button("Acknowledge", async (event) => {
      event.target.disabled = true;
      try {
        await api(`/alerts/${alert.id}/acknowledge`, { method: "POST" });
        say(note, "Acknowledged.");
        await refresh();
      } catch (e) { say(note, e.message, true); event.target.disabled = false; }
    }, { class: "ack", "aria-label": `Acknowledge: ${alert.summary}` }));
  }
  append(card, note);
  return card;
}

async function showNow(box, me) {
  const now = await api("/building/now");
  const refresh = () => showNow(box, me);
  box.textContent = "";
  append(box, 
    section("alerts-open", `Open alerts (${now.alerts.length})`,
      now.alerts.length ? now.alerts.map((a) => alertCard(a, me, refresh)) : el("p", {}, "No open alert.")),
    section("zones-now", "Heating zones",
      table("zones", null, [{ label: "Zone" }, { label: "Now", amount: true }, { label: "Setpoint", amount: true }, { label: "State" }],
        now.zones.map((z) => ({ attrs: { class: z.cold ? "cold" : null, dataset: { zone: `${z.device}.${z.zone}` } },
          cells: [`${z.device} ${z.zone.replace("t_", "")}`, degrees(z.temperature_c), degrees(z.setpoint_c), z.cold ? "cold" : "ok"] })),
        { empty: "No heating node has reported." })),
    section("boilers-now", "Boilers",
      table("boilers", null, [{ label: "Boiler" }, { label: "Call" }, { label: "Flow", amount: true }, { label: "Return", amount: true }, { label: "At" }],
        now.boilers.map((b) => [b.device, b.call ? "calling" : "idle", degrees(b.t_flow_c), degrees(b.t_return_c), when(b.at)]))),
    section("in-use", "Machines in use",
      table("machines-in-use", null, [{ label: "Machine" }, { label: "By" }, { label: "Since" }],
        now.in_use.map((u) => [u.machine || u.device, u.member || "unknown badge", when(u.since)]), { empty: "No machine in use." })),
    section("nodes-now", "Nodes",
      table("nodes", null, [{ label: "Node" }, { label: "Role" }, { label: "State" }, { label: "Last seen" }],
        now.nodes.map((n) => ({ attrs: { class: n.state === "online" ? null : "warn", dataset: { device: n.device } },
          cells: [n.machine ? `${n.device} (${n.machine})` : n.device, n.role, n.state, `${ago(n.last_seen)} (${when(n.last_seen)})`] })))),
  );
  box.dataset.loaded = "1";
}

async function showCharts(box, span) {
  box.textContent = "";
  const heating = el("div", { class: "chart", id: "chart-heating", role: "img", "aria-label": `Heating, last ${span}` });
  const power = el("div", { class: "chart", id: "chart-power", role: "img", "aria-label": `Building power, last ${span}` });
  append(box, heating, power);
  const [h, p] = await Promise.all([api(`/building/charts/heating?range=${span}`), api(`/building/charts/power?range=${span}`)]);
  draw(heating, h, `Heating (°C), ${h.source === "autogen" ? "raw" : h.source}`);
  draw(power, p, `Building power (W), ${p.source === "autogen" ? "raw" : p.source}`);
  box.dataset.range = span;
  box.dataset.points = String(h.times.length);
}

async function showHistory(box) {
  const rows = await api("/alerts?limit=50");
  box.textContent = "";
  append(box, table("alert-history", null, [{ label: "Fired" }, { label: "Kind" }, { label: "Node" }, { label: "State" }, { label: "Summary" }],
    rows.map((a) => [when(a.fired_at), a.kind, a.device, a.state + (a.acknowledged_by ? ` (${a.acknowledged_by})` : ""), a.summary]),
    { empty: "No alert so far." }));
}

// The view refreshes itself every minute, unless the user is inside it (focus kept).
const REFRESH_MS = 60000;
let timer = null;

export function leave() { clearInterval(timer); timer = null; }

export async function render(root, me) {
  leave();
  const now = el("div", { id: "now" });
  const charts = el("div", { id: "charts" });
  const chartError = message("charts-message");
  const history = el("div", { id: "history" });
  const picker = el("div", { class: "buttons", role: "group", "aria-label": "Chart range" },
    RANGES.map(([value, text]) => button(text, async (event) => {
      for (const b of picker.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b === event.target));
      try { await showCharts(charts, value); say(chartError, ""); } catch (e) { say(chartError, e.message, true); }
    }, { "aria-pressed": value === "24h" ? "true" : "false", dataset: { range: value } })));
  append(root, 
    el("h2", {}, "The building now"),
    button("Refresh", () => showNow(now, me), { id: "refresh" }),
    now,
    section("charts-section", "Heating and power", picker, chartError, charts),
    section("history-section", "Alert history", history),
  );
  timer = setInterval(() => {
    if (!document.body.contains(now)) { leave(); return; }
    if (now.contains(document.activeElement)) return;
    showNow(now, me).catch((e) => say(chartError, e.message, true));
  }, REFRESH_MS);
  await Promise.all([
    showNow(now, me),
    showCharts(charts, "24h").catch((e) => say(chartError, e.message, true)),
    showHistory(history),
  ]);
}
