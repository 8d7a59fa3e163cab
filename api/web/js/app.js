// The web app: log in, then the views the role may see (plain ES modules, no build step).
import { api, state } from "./api.js";
import { el } from "./dom.js";
import * as building from "./building.js";
import * as bills from "./bills.js";
import * as member from "./member.js";
import * as admin from "./admin.js";

const VIEWS = {
  building: { title: "Building", module: building, roles: ["coordinator", "admin", "treasurer"] },
  bills: { title: "Bills", module: bills, roles: ["treasurer", "admin"] },
  me: { title: "Me", module: member, roles: [], needsMember: true },
  admin: { title: "Admin", module: admin, roles: ["admin", "coordinator"] },
};

function allowed(name) {
  const view = VIEWS[name];
  if (!view || !state.me) return false;
  if (view.needsMember) return !!state.me.member;
  return view.roles.includes(state.me.role);
}

function firstView() {
  const order = { member: ["me"], coordinator: ["building"], treasurer: ["bills"], admin: ["building"] }[state.me.role] || [];
  return order.find(allowed) || Object.keys(VIEWS).find(allowed);
}

function showNav(current) {
  const nav = document.getElementById("nav");
  nav.textContent = "";
  for (const name of Object.keys(VIEWS).filter(allowed)) {
    nav.append(el("a", { href: `#/${name}`, "aria-current": name === current ? "page" : null }, VIEWS[name].title));
  }
}

async function route() {
  if (!state.me) return;
  let name = location.hash.replace(/^#\//, "");
  if (!allowed(name)) name = firstView();
  showNav(name);
  const root = document.getElementById("view");
  for (const view of Object.values(VIEWS)) if (view.module.leave) view.module.leave();
  root.textContent = "";
  document.body.dataset.ready = "";
  document.body.dataset.view = name || "";
  document.getElementById("error").textContent = "";
  if (!name) { root.append(el("p", {}, "This login has nothing to show.")); document.body.dataset.ready = "1"; return; }
  try {
    await VIEWS[name].module.render(root, state.me);
  } catch (e) {
    document.getElementById("error").textContent = e.message;
  }
  const heading = root.querySelector("h2");
  if (heading && document.activeElement === document.body) { heading.tabIndex = -1; heading.focus({ preventScroll: true }); }
  document.body.dataset.ready = "1";
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
  document.getElementById("login").hidden = true;
  document.getElementById("who").textContent = `${state.me.username} (${state.me.role})`;
  document.getElementById("logout").hidden = false;
  await route();
}

document.getElementById("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.getElementById("login-error");
  error.textContent = "";
  try {
    const answer = await api("/auth/token", {
      method: "POST",
      json: { username: document.getElementById("username").value, password: document.getElementById("password").value },
    });
    state.token = answer.access_token;
    sessionStorage.setItem("token", state.token);
    await start();
  } catch (e) { error.textContent = e.message; }
});

document.getElementById("logout").addEventListener("click", async () => {
  try { await api("/auth/logout", { method: "POST" }); } catch (e) { /* already gone */ }
  sessionStorage.removeItem("token"); location.hash = ""; location.reload();
});

window.addEventListener("hashchange", () => route());
start().catch((e) => { document.getElementById("error").textContent = e.message; });
