// The admin page: the deployment's tokens per day (a chart), the heaviest users, and the users (found by
// email on the server, disable, role, per-user quotas, delete). The API enforces its rules (the last admin,
// etc.); its answers are shown as written.

import { api, lastThirtyDays, query, request, session } from "./api.js";
import { $, el, guarded, notice, replace } from "./dom.js";
import { usageChart } from "./chart.js";

const PAGE = 500;
// How long the search box waits for typing to pause before it asks the server.
const SEARCH_PAUSE_MS = 250;
let users = [];
let totalUsers = 0;
// The email the list is filtered by (null: every user), and the newest list request: an older answer that
// arrives later is dropped, so the rows always match what the box says.
let needle = null;
let latest = 0;

export async function showAdmin() {
  users = [];
  needle = searched();
  await Promise.all([guarded(showUsage), guarded(() => loadUsers(0))]);
}

/** The chart from one `GET /admin/usage/daily` (every day present), and the heaviest users. */
async function showUsage() {
  const { from, to } = lastThirtyDays();
  const [usage, heaviest] = await Promise.all([
    api("GET", `/admin/usage/daily${query({ from, to })}`),
    api("GET", `/admin/usage${query({ from, to, limit: 10 })}`),
  ]);
  const chart = usageChart(usage.days, "Deployment tokens per day, last 30 days (UTC)");
  chart.setAttribute("data-testid", "admin-usage-chart");
  replace($("admin-chart-box"), chart,
    el("p", { class: "meta", text: `${usage.totals.total_tokens.toLocaleString()} tokens, ${usage.totals.requests} request(s), ${heaviest.total_users} user(s) with usage` }));
  replace($("heaviest"), heaviest.users.map((user) =>
    el("li", { text: `${user.email}: ${user.total_tokens.toLocaleString()} tokens in ${user.requests} request(s)` })));
  if (heaviest.users.length === 0) $("heaviest").append(el("li", { class: "empty", text: "No usage yet." }));
}

function searched() {
  return $("user-search").value.trim() || null;
}

/** A page of users from `offset` (the server filters by email); the first page replaces the list. */
async function loadUsers(offset) {
  const mine = ++latest;
  const response = await request("GET", `/admin/users${query({ email: needle, limit: PAGE, offset })}`);
  const page = await response.json();
  if (mine !== latest) return;
  totalUsers = Number(response.headers.get("X-Total-Count") || page.length);
  users = offset === 0 ? page : users.concat(page);
  drawUsers();
}

/** Searching: once typing pauses, the server's first page of matching users. */
let pause = null;
function searchUsers() {
  clearTimeout(pause);
  pause = setTimeout(() => {
    if (searched() === needle) return;
    needle = searched();
    guarded(() => loadUsers(0));
  }, SEARCH_PAUSE_MS);
}

function drawUsers() {
  replace($("users"), users.map(userRow));
  $("more-users").hidden = users.length >= totalUsers;
}

function quotaInput(user, field, label) {
  const value = user[field];
  return el("input", {
    type: "number", min: 0, class: "quota", name: field, "aria-label": `${label} for ${user.email}`,
    placeholder: "default", value: value === null || value === undefined ? "" : String(value),
  });
}

function userRow(user) {
  const daily = quotaInput(user, "daily_token_quota", "Daily token quota");
  const monthly = quotaInput(user, "monthly_token_quota", "Monthly token quota");
  const role = el("select", { "aria-label": `Role of ${user.email}`, onchange: (event) => changeRole(user, event.target.value) },
    el("option", { value: "user", text: "user", selected: user.role === "user" }),
    el("option", { value: "admin", text: "admin", selected: user.role === "admin" }));
  const quotas = () => ({ daily_token_quota: daily.value === "" ? null : Number(daily.value), monthly_token_quota: monthly.value === "" ? null : Number(monthly.value) });
  return el("tr", { "data-testid": "user-row", "data-user-id": user.id, "data-disabled": user.disabled ? "true" : "false" },
    el("td", { text: user.email }),
    el("td", {}, role),
    el("td", {}, el("button", { type: "button", class: "toggle-disabled", text: user.disabled ? "Enable" : "Disable",
      "aria-label": `${user.disabled ? "Enable" : "Disable"} ${user.email}`, onclick: () => patch(user, { disabled: !user.disabled }) }),
      user.disabled ? el("span", { class: "badge failed", text: "disabled" }) : null),
    el("td", {}, daily), el("td", {}, monthly),
    el("td", {}, el("button", { type: "button", text: "Save quotas", onclick: () => patch(user, quotas()) }),
      deleteButton(user)));
}

function deleteButton(user) {
  let armed = false;
  return el("button", { type: "button", class: "danger", text: "Delete", "aria-label": `Delete ${user.email}`,
    onclick: (event) => {
      if (!armed) { armed = true; event.target.textContent = "Confirm delete"; return; }
      guarded(async () => { await api("DELETE", `/admin/users/${user.id}`); await loadUsers(0); });
    } });
}

function replaceUser(updated) {
  users = users.map((user) => (user.id === updated.id ? { ...user, ...updated } : user));
  drawUsers();
}

function patch(user, changes) {
  return guarded(async () => {
    replaceUser(await api("PATCH", `/admin/users/${user.id}`, changes));
    notice(`Saved ${user.email}.`, "info");
  });
}

function changeRole(user, role) {
  return guarded(async () => {
    try {
      replaceUser(await api("PATCH", `/admin/users/${user.id}/role`, { role }));
      if (user.id === session.user?.id && role !== "admin") location.hash = "#/chats";
    } finally {
      drawUsers();
    }
  });
}

export function wireAdmin() {
  $("user-search").addEventListener("input", searchUsers);
  $("user-search-form").addEventListener("submit", (event) => event.preventDefault());
  $("more-users").addEventListener("click", () => guarded(() => loadUsers(users.length)));
}
