// The account page: the user's usage for the last 30 days as a chart, their quotas with what remains, and
// their API keys (create with the secret shown once, list, revoke).

import { api, lastThirtyDays, query } from "./api.js";
import { $, el, guarded, replace, when } from "./dom.js";
import { fillDays, usageChart } from "./chart.js";

export async function showAccount() {
  await Promise.all([guarded(showUsage), guarded(showKeys)]);
}

async function showUsage() {
  const { from, to } = lastThirtyDays();
  const usage = await api("GET", `/auth/me/usage${query({ from, to })}`);
  const chart = usageChart(fillDays(usage.from, usage.to, usage.days), "Your tokens per day, last 30 days (UTC)");
  chart.setAttribute("data-testid", "usage-chart");
  const totals = usage.totals;
  replace($("usage-chart-box"), chart,
    el("p", { class: "meta", text: `${totals.total_tokens.toLocaleString()} tokens in ${totals.requests} request(s) ` +
      `(${totals.prompt_tokens.toLocaleString()} prompt, ${totals.completion_tokens.toLocaleString()} completion)` }));
  replace($("quotas"), quota("Today (UTC)", usage.quotas.daily), quota("This month (UTC)", usage.quotas.monthly));
}

function quota(label, standing) {
  const limit = standing.limit === null ? "unlimited" : standing.limit.toLocaleString();
  const remaining = standing.remaining === null ? "no limit" : `${standing.remaining.toLocaleString()} left`;
  return [
    el("dt", { text: label }),
    el("dd", { text: `${standing.used.toLocaleString()} used of ${limit}` +
      (standing.reserved ? ` (${standing.reserved.toLocaleString()} reserved by running replies)` : "") +
      `; ${remaining}; resets ${when(standing.resets_at)}` }),
  ];
}

async function showKeys() {
  const keys = await api("GET", "/auth/me/api-keys");
  replace($("api-keys"), keys.map(keyItem));
  if (keys.length === 0) $("api-keys").append(el("li", { class: "empty", text: "No API keys." }));
}

function keyItem(key) {
  const usage = key.usage ? `; this month ${key.usage.requests} request(s), ${key.usage.total_tokens.toLocaleString()} tokens` : "";
  return el("li", { "data-testid": "api-key-item", "data-key-id": key.id },
    el("strong", { text: key.name }), " ",
    el("code", { text: `${key.prefix}…` }),
    el("span", { class: "meta", text: ` created ${when(key.created_at)}` +
      `; ${key.expires_at ? `expires ${when(key.expires_at)}` : "never expires"}` +
      `; ${key.last_used_at ? `last used ${when(key.last_used_at)}` : "never used"}${usage}` }),
    el("button", { type: "button", class: "danger", text: "Revoke", "aria-label": `Revoke key ${key.name}`,
      onclick: () => guarded(async () => { await api("DELETE", `/auth/me/api-keys/${key.id}`); await showKeys(); }) }));
}

async function createKey(event) {
  event.preventDefault();
  const body = { name: $("api-key-name").value };
  const days = $("api-key-days").value;
  if (days) body.expires_in_days = Number(days);
  const key = await api("POST", "/auth/me/api-keys", body);
  $("api-key-secret").textContent = key.key;
  $("api-key-new").hidden = false;
  $("api-key-name").value = "";
  await showKeys();
}

export function wireAccount() {
  $("api-key-form").addEventListener("submit", (event) => guarded(() => createKey(event)));
}

/** Leaving the page forgets a secret that was shown. */
export function hideSecret() {
  $("api-key-secret").textContent = "";
  $("api-key-new").hidden = true;
}
