// The public API as the console uses it: the session's token (kept in sessionStorage, so it lasts a tab's
// life and no longer), JSON requests, and errors carrying the API's `detail` as written.

const TOKEN_KEY = "chat-console-token";

export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
  user: null,
};

/** An answer other than 2xx: its status and the API's `detail` as one readable line. */
export class APIError extends Error {
  constructor(status, detail) {
    super(describeDetail(detail, status));
    this.status = status;
    this.detail = detail;
  }
}

/** FastAPI's detail: a message, or validation issues (each `loc` and `msg`). */
export function describeDetail(detail, status) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((issue) => {
      const place = (issue.loc || []).filter((part) => part !== "body").join(".");
      return place ? `${place}: ${issue.msg}` : issue.msg;
    }).join("; ");
  }
  return `The server answered ${status}`;
}

/** Called when the server says the session is over (401), so the page can return to sign-in. */
let onSessionEnded = () => {};
export function whenSessionEnds(handler) { onSessionEnded = handler; }

/** Headers for a request: the bearer token, and JSON's type when there is a JSON body. */
export function headers(extra = {}, json = false) {
  const result = { ...extra };
  if (session.token) result.Authorization = `Bearer ${session.token}`;
  if (json) result["Content-Type"] = "application/json";
  return result;
}

/** Sends a request; resolves to the `Response` when it is 2xx, else throws an `APIError`. */
export async function request(method, path, { body, raw, extraHeaders, signal } = {}) {
  const init = { method, headers: headers(extraHeaders, body !== undefined && raw === undefined), signal };
  if (raw !== undefined) init.body = raw;
  else if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(path, init);
  if (response.ok) return response;
  let detail = null;
  try { detail = (await response.json()).detail; } catch { /* not JSON: the status speaks */ }
  if (response.status === 401 && session.token) onSessionEnded();
  throw new APIError(response.status, detail);
}

/** A JSON request; resolves to the decoded body (null for 204). */
export async function api(method, path, body) {
  const response = await request(method, path, { body });
  if (response.status === 204) return null;
  return response.json();
}

/** A query string from an object, leaving out null and undefined values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined) search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** Today and the day 29 days before it, as UTC `YYYY-MM-DD`: the last 30 days. */
export function lastThirtyDays() {
  const today = new Date();
  const from = new Date(today.getTime() - 29 * 86400000);
  return { from: isoDay(from), to: isoDay(today) };
}

export function isoDay(date) { return date.toISOString().slice(0, 10); }
