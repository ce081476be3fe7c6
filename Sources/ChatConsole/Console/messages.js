// One message of a conversation as an element: role, status, text (always as text), the error of a failed
// reply, its actions (edit a user message, regenerate a reply) and the switch between its sibling branches.

import { el, when } from "./dom.js";

const STATUS_LABELS = {
  streaming: "generating…",
  failed: "failed",
  cancelled: "cancelled",
  interrupted: "interrupted",
};

/**
 * The element for `message` (as `GET /chats/{id}/messages?tree=true` gives it). `actions` holds the
 * handlers: `edit(message, text)`, `regenerate(message)`, `switchTo(messageID)`; `busy` disables them.
 */
export function messageElement(message, actions, busy) {
  const status = message.status || "complete";
  const item = el("li", {
    class: `message ${message.role} status-${status}`,
    "data-testid": "message",
    "data-role": message.role,
    "data-status": status,
    "data-message-id": message.id,
    tabindex: "-1",
  });
  item.append(header(message, status));
  item.append(el("div", { class: "text", text: message.content }));
  if (message.error) item.append(el("p", { class: "error", text: message.error }));
  if (message.id > 0 && status !== "streaming") item.append(toolbar(message, actions, busy));
  return item;
}

function header(message, status) {
  const parts = [el("span", { class: "role", text: message.role === "user" ? "You" : "Assistant" })];
  if (STATUS_LABELS[status]) parts.push(el("span", { class: `badge ${status}`, text: STATUS_LABELS[status] }));
  if (message.model) parts.push(el("span", { class: "meta", text: message.model }));
  parts.push(el("time", { class: "meta", datetime: message.created_at, text: when(message.created_at) }));
  return el("div", { class: "message-header" }, parts);
}

function toolbar(message, actions, busy) {
  const bar = el("div", { class: "message-actions" });
  const siblings = message.sibling_ids || [message.id];
  if (siblings.length > 1) bar.append(siblingSwitch(message, siblings, actions, busy));
  if (message.role === "assistant") {
    bar.append(el("button", {
      type: "button", class: "regenerate", text: "Regenerate", disabled: busy,
      "aria-label": "Regenerate this reply", onclick: () => actions.regenerate(message),
    }));
  } else if (message.role === "user") {
    bar.append(el("button", {
      type: "button", class: "edit", text: "Edit", disabled: busy,
      "aria-label": "Edit this message", onclick: (event) => openEditor(event.target.closest("li"), message, actions),
    }));
  }
  return bar;
}

function siblingSwitch(message, siblings, actions, busy) {
  const index = siblings.indexOf(message.id);
  const go = (delta) => () => actions.switchTo(siblings[index + delta]);
  return el("span", { class: "siblings", role: "group", "aria-label": "Versions" },
    el("button", { type: "button", class: "previous-version", text: "‹", disabled: busy || index <= 0,
      "aria-label": "Previous version", onclick: go(-1) }),
    el("span", { class: "version", text: `${index + 1} / ${siblings.length}` }),
    el("button", { type: "button", class: "next-version", text: "›", disabled: busy || index >= siblings.length - 1,
      "aria-label": "Next version", onclick: go(1) }));
}

function openEditor(item, message, actions) {
  const area = el("textarea", { class: "edit-text", rows: 3, maxLength: 32000, "aria-label": "Edited message" });
  area.value = message.content;
  const form = el("form", { class: "editor" }, area,
    el("div", { class: "row" },
      el("button", { type: "submit", text: "Send edit" }),
      el("button", { type: "button", text: "Keep original", onclick: () => form.replaceWith(text) })));
  const text = item.querySelector(".text");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (area.value.trim()) actions.edit(message, area.value);
  });
  text.replaceWith(form);
  area.focus();
}
