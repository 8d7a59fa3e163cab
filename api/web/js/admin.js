// The admin's view: members and logins, units and leases, devices and machines,
// badges, trainings, the audit log. A coordinator sees the parts their role may change.
import { api, download } from "./api.js";
import { append, button, el, form, message, say, section, table, when } from "./dom.js";

const ADMIN = ["admin"];
const MANAGER = ["admin", "coordinator"];
const TREASURER = ["admin", "treasurer"];

// What is there on one side, the forms that change it on the other (one column on a phone).
function part(id, title, nodes) {
  const forms = nodes.filter((n) => n.tagName === "FORM");
  return section(id, title, el("div", { class: "lists" }, nodes.filter((n) => n.tagName !== "FORM")),
    el("div", { class: "forms" }, forms));
}

function options(rows, text) { return rows.map((r) => [String(r.id), text(r)]); }

async function load() {
  const [members, units, leases, devices, machines, badges, trainings] = await Promise.all(
    ["/members", "/units", "/leases", "/devices", "/machines", "/badges", "/trainings"].map((p) => api(p)));
  return { members, units, leases, devices, machines, badges, trainings };
}

function membersPart(d, me, redraw) {
  const code = Object.fromEntries(d.members.map((m) => [m.id, m.code]));
  const parts = [table("members", null, [{ label: "Code" }, { label: "Name" }, { label: "Kind" }, { label: "E-mail" }, { label: "Active" }],
    d.members.map((m) => ({ attrs: { dataset: { member: m.code } }, cells: [m.code, m.name, m.kind, m.email, m.active ? "yes" : "no"] })))];
  if (MANAGER.includes(me.role)) {
    parts.push(form("member-form", "Add a member", [
      { name: "code", label: "Code", required: true, pattern: "[A-Za-z0-9_.:@\\/+\\-]{1,64}" },
      { name: "name", label: "Name", required: true },
      { name: "kind", label: "Kind", options: [["company", "company"], ["person", "person"]] },
      { name: "email", label: "E-mail", type: "email" },
      { name: "cost_centre", label: "Cost centre" },
    ], "Add member", async (v) => { const m = await api("/members", { method: "POST", json: v }); await redraw(); return `Member ${m.code} added.`; }));
  }
  if (ADMIN.includes(me.role)) {
    parts.push(form("user-form", "Give a login", [
      { name: "username", label: "Username", required: true },
      { name: "password", label: "Password (8 characters or more)", type: "password", required: true, autocomplete: "new-password" },
      { name: "role", label: "Role", options: [["member", "member"], ["coordinator", "coordinator"], ["treasurer", "treasurer"], ["admin", "admin"]] },
      { name: "member_id", label: "Member", options: [["", "none"], ...options(d.members, (m) => m.code)] },
    ], "Create login", async (v) => {
      const body = { username: v.username, password: v.password, role: v.role };
      if (v.member_id) body.member_id = Number(v.member_id);
      const u = await api("/users", { method: "POST", json: body });
      await redraw();
      return `Login ${u.username} (${u.role}${u.member_id ? ", " + code[u.member_id] : ""}) created.`;
    }));
  }
  return part("members-section", "Members and logins", parts);
}

function spacesPart(d, me, redraw) {
  const unit = Object.fromEntries(d.units.map((u) => [u.id, u.code]));
  const member = Object.fromEntries(d.members.map((m) => [m.id, m.code]));
  const parts = [
    table("units", "Units", [{ label: "Unit" }, { label: "Area m²", amount: true }, { label: "Heated" }],
      d.units.map((u) => [u.code, u.area_m2 ?? u.area, u.heated === false ? "no" : "yes"])),
    table("leases", "Leases", [{ label: "Unit" }, { label: "Member" }, { label: "From" }, { label: "To" }],
      d.leases.map((l) => [unit[l.unit_id], member[l.member_id], l.start, l.end || "open"])),
  ];
  if (TREASURER.includes(me.role)) {
    parts.push(form("unit-form", "Add a unit", [
      { name: "code", label: "Code", required: true },
      { name: "area_m2", label: "Area (m²)", type: "number", step: "0.01", min: "0", required: true },
    ], "Add unit", async (v) => { const u = await api("/units", { method: "POST", json: v }); await redraw(); return `Unit ${u.code} added.`; }),
    form("lease-form", "Add a lease", [
      { name: "unit_id", label: "Unit", options: options(d.units, (u) => u.code), required: true },
      { name: "member_id", label: "Member", options: options(d.members, (m) => m.code), required: true },
      { name: "start", label: "First day", type: "date", required: true },
      { name: "end", label: "Last day (empty: open)", type: "date" },
    ], "Add lease", async (v) => {
      const l = await api("/leases", { method: "POST", json: { ...v, unit_id: Number(v.unit_id), member_id: Number(v.member_id) } });
      await redraw(); return `Lease ${l.id} added.`;
    }));
  }
  return part("spaces-section", "Units and leases", parts);
}

function devicesPart(d, me, redraw) {
  const note = message("devices-message");
  const byId = Object.fromEntries(d.devices.map((x) => [x.id, x.name]));
  const parts = [note,
    table("devices", "Devices", [{ label: "Device" }, { label: "Role" }, { label: "Since" }, { label: "Config" }],
      d.devices.map((x) => ({ attrs: { dataset: { device: x.name } }, cells: [x.name, x.role, when(x.created_at),
        ADMIN.includes(me.role) ? button("Download config", async () => {
          // POST: making a config issues the device a new MQTT password.
          try { await download(`/devices/${x.id}/config`, `${x.name}.json`, "POST"); say(note, `Config of ${x.name} downloaded; it holds a new MQTT password, so the node's old config no longer logs in.`); } catch (e) { say(note, `Config of ${x.name}: ${e.message}`, true); }
        }, { "aria-label": `Download the config of ${x.name}` }) : ""] }))),
    table("machines", "Machines", [{ label: "Machine" }, { label: "Name" }, { label: "Node" }, { label: "Rated W", amount: true }],
      d.machines.map((m) => [m.code, m.name, byId[m.device_id] || "none", m.rated_power_w])),
  ];
  if (ADMIN.includes(me.role)) {
    parts.push(form("device-form", "Add a device", [
      { name: "name", label: "Name (MQTT login)", required: true, pattern: "[a-z0-9_\\-]{1,32}" },
      { name: "role", label: "Role", options: [["machine", "machine"], ["heating", "heating"], ["meter", "meter"]] },
    ], "Add device", async (v) => {
      const c = await api("/devices", { method: "POST", json: v });
      await redraw();
      return `Device ${c.name} added. Its MQTT password, shown once: ${c.mqtt_password}`;
    }));
  }
  if (MANAGER.includes(me.role)) {
    parts.push(form("machine-form", "Add a machine", [
      { name: "code", label: "Code", required: true },
      { name: "name", label: "Name" },
      { name: "rated_power_w", label: "Rated power (W)", type: "number", min: "1", step: "1", required: true, integer: true },
      { name: "device_id", label: "Node", options: [["", "none yet"], ...options(d.devices.filter((x) => x.role === "machine"), (x) => x.name)] },
    ], "Add machine", async (v) => {
      const body = { code: v.code, rated_power_w: v.rated_power_w };
      if (v.name) body.name = v.name;
      if (v.device_id) body.device_id = Number(v.device_id);
      const m = await api("/machines", { method: "POST", json: body });
      await redraw(); return `Machine ${m.code} added.`;
    }));
  }
  return part("devices-section", "Devices and machines", parts);
}

function accessPart(d, me, redraw) {
  const member = Object.fromEntries(d.members.map((m) => [m.id, m.code]));
  const machine = Object.fromEntries(d.machines.map((m) => [m.id, m.code]));
  const note = message("access-message");
  const revoke = (path, what) => async () => {
    try { await api(path, { method: "DELETE" }); await redraw(); } catch (e) { say(note, `${what}: ${e.message}`, true); }
  };
  const parts = [note,
    table("badges", "Badges", [{ label: "Member" }, { label: "Kind" }, { label: "Holder" }, { label: "Enrolled" }, { label: "" }],
      d.badges.map((b) => ({ attrs: { dataset: { member: member[b.member_id] } }, cells: [member[b.member_id], b.kind, b.holder, when(b.enrolled_at),
        b.revoked_at ? `revoked ${when(b.revoked_at)}` : button("Revoke", revoke(`/badges/${b.id}`, "badge"), { "aria-label": `Revoke badge ${b.id} of ${member[b.member_id]}` })] }))),
    table("trainings", "Trainings", [{ label: "Member" }, { label: "Machine" }, { label: "Valid until" }, { label: "" }],
      d.trainings.map((t) => ({ attrs: { dataset: { member: member[t.member_id], machine: machine[t.machine_id] } }, cells: [member[t.member_id], machine[t.machine_id], t.expires_on || "no expiry",
        t.revoked_at ? `revoked ${when(t.revoked_at)}` : button("Revoke", revoke(`/trainings/${t.id}`, "training"), { "aria-label": `Revoke training of ${member[t.member_id]} on ${machine[t.machine_id]}` })] }))),
  ];
  if (MANAGER.includes(me.role)) {
    parts.push(form("badge-form", "Enrol a badge", [
      { name: "member_id", label: "Member", options: options(d.members, (m) => m.code), required: true },
      { name: "uid", label: "Card UID (hex, as the reader shows it)", required: true, placeholder: "04:A2:3B:1C", hint: "Type the UID printed by a reader. Only a keyed hash of it is stored." },
      { name: "kind", label: "Kind", options: [["personal", "personal"], ["company", "company"]] },
      { name: "holder", label: "Carried by" },
    ], "Enrol badge", async (v) => {
      const b = await api("/badges", { method: "POST", json: { ...v, member_id: Number(v.member_id) } });
      await redraw(); return `Badge ${b.id} enrolled for ${member[b.member_id]}; the machines' allow-lists are being updated.`;
    }),
    form("tap-form", "Enrol the card just tapped on a node", [
      { name: "member_id", label: "Member", options: options(d.members, (m) => m.code), required: true },
      { name: "device", label: "Node whose reader it was tapped on", options: d.devices.filter((x) => x.role === "machine").map((x) => [x.name, x.name]), required: true,
        hint: "Tap the card on that node's reader first: the node refuses an unknown card and reports it. The newest card tapped there in the last 5 minutes is enrolled." },
      { name: "kind", label: "Kind", options: [["personal", "personal"], ["company", "company"]] },
      { name: "holder", label: "Carried by" },
    ], "Enrol tapped card", async (v) => {
      const b = await api("/badges/tapped", { method: "POST", json: { ...v, member_id: Number(v.member_id) } });
      await redraw(); return `Badge ${b.id} (the card tapped on ${v.device}) enrolled for ${member[b.member_id]}.`;
    }),
    form("training-form", "Record a training", [
      { name: "member_id", label: "Member", options: options(d.members, (m) => m.code), required: true },
      { name: "machine_id", label: "Machine", options: options(d.machines, (m) => m.code), required: true },
      { name: "expires_on", label: "Valid until (empty: no expiry)", type: "date" },
    ], "Record training", async (v) => {
      const t = await api("/trainings", { method: "POST", json: { ...v, member_id: Number(v.member_id), machine_id: Number(v.machine_id) } });
      await redraw(); return `${member[t.member_id]} may use ${machine[t.machine_id]}.`;
    }));
  }
  return part("access-section", "Badges and trainings", parts);
}

async function auditPart() {
  const rows = await api("/audit?limit=50");
  return section("audit-section", "Audit log (newest 50)",
    table("audit", null, [{ label: "When" }, { label: "Who" }, { label: "Did" }, { label: "What" }],
      rows.map((r) => [when(r.at), r.actor, r.action, `${r.entity}${r.entity_id ? " " + r.entity_id : ""}`])));
}

export async function render(root, me) {
  const box = el("div", { id: "admin" });
  append(root, el("h2", {}, "Members, spaces, machines, access"), box);
  const redraw = async () => {
    const focused = document.activeElement && document.activeElement.id;
    const notes = {};
    for (const n of box.querySelectorAll(".message")) notes[n.id] = [n.textContent, n.classList.contains("error")];
    const d = await load();
    box.textContent = "";
    append(box, membersPart(d, me, redraw), spacesPart(d, me, redraw), devicesPart(d, me, redraw), accessPart(d, me, redraw), await auditPart());
    for (const [id, [text, isError]] of Object.entries(notes)) { const n = document.getElementById(id); if (n) say(n, text, isError); }
    if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
  };
  await redraw();
}
