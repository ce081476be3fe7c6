// The chats side: the list (pinned first, archived behind a toggle), search with highlighted snippets,
// import, and the open chat's header (rename, pin, archive, delete, export, model and system prompt).

import { api, query, request } from "./api.js";
import { $, download, el, guarded, notice, replace, snippetNodes } from "./dom.js";
import { conversation, updateChat } from "./conversation.js";

let models = null;

const CHATS_PAGE = 100;
let shownChats = CHATS_PAGE;

/** Reads the chat list (archived ones when the toggle is on; `more` for another page) and draws it. */
export async function loadChats(more = false) {
  const archived = $("show-archived").checked;
  shownChats = more ? shownChats + CHATS_PAGE : Math.max(shownChats, CHATS_PAGE);
  const chats = [];
  let total = 0;
  while (chats.length < shownChats) {
    const page = await api("GET", `/chats${query({ limit: CHATS_PAGE, offset: chats.length, archived: archived ? "true" : null })}`);
    chats.push(...page.chats);
    total = page.total;
    if (page.chats.length < CHATS_PAGE) break;
  }
  replace($("chat-list"), chats.map(chatItem));
  if (chats.length === 0) $("chat-list").append(el("li", { class: "empty", text: archived ? "No archived chats." : "No chats yet." }));
  $("more-chats").hidden = chats.length >= total;
}

function chatItem(chat) {
  return el("li", {},
    el("a", {
      href: `#/chats/${chat.id}`, class: "chat-item", "data-testid": "chat-item", "data-chat-id": chat.id,
      "aria-current": chat.id === conversation.chat?.id ? "page" : null,
    },
    chat.pinned ? el("span", { class: "pin", text: "Pinned" }) : null,
    el("span", { class: "title", text: chat.title || "New chat" })));
}

/** Runs a search and lists its results; each opens its chat at the message. */
export async function search(text) {
  const box = $("search-results");
  if (!text.trim()) { box.hidden = true; replace(box); return; }
  box.hidden = false;
  try {
    const result = await api("GET", `/chats/search${query({ q: text, limit: 20 })}`);
    replace(box, result.results.map(resultItem));
    if (result.results.length === 0) box.append(el("li", { class: "empty", text: "Nothing found." }));
  } catch (error) {
    replace(box, el("li", { class: "error", text: error.message }));
  }
}

function resultItem(result) {
  const target = result.message_id === null || result.message_id === undefined
    ? `#/chats/${result.chat_id}` : `#/chats/${result.chat_id}/m/${result.message_id}`;
  return el("li", {},
    el("a", { href: target, class: "search-result", "data-testid": "search-result" },
      el("span", { class: "title", text: result.chat_title || "Untitled chat" }),
      el("span", { class: "snippet" }, snippetNodes(result.snippet))));
}

/** Imports a file (a chat export, the NDJSON of every chat, or ChatGPT's conversations.json). */
export async function importFile(file) {
  const type = /\.ndjson$/i.test(file.name) ? "application/x-ndjson" : "application/json";
  const response = await request("POST", "/chats/import", { raw: file, extraHeaders: { "Content-Type": type } });
  const result = await response.json();
  notice(`Imported ${result.imported} chat(s), ${result.messages} message(s)` +
    (result.skipped ? `; ${result.skipped} part(s) skipped` : ""), "info");
  await loadChats();
}

/** Fills the header of the open chat: title, pin and archive states, model picker, system prompt. */
export async function showChatHeader(chat) {
  $("chat-header").hidden = !chat;
  if (!chat) return;
  $("chat-title").value = chat.title || "";
  $("pin-chat").textContent = chat.pinned ? "Unpin" : "Pin";
  $("archive-chat").textContent = chat.archived ? "Unarchive" : "Archive";
  $("system-prompt").value = chat.system_prompt || "";
  models = models || await api("GET", "/models");
  replace($("model"),
    el("option", { value: "", text: `Default (${models.default})` }),
    models.models.map((model) => el("option", { value: model.id, text: model.id })));
  $("model").value = chat.model || "";
}

async function patchChat(changes) {
  const chat = await api("PATCH", `/chats/${conversation.chat.id}`, changes);
  updateChat(chat);
  await showChatHeader(chat);
  await loadChats();
}

async function exportChat(format) {
  const chat = conversation.chat;
  const response = await request("GET", `/chats/${chat.id}/export?format=${format}`);
  const named = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
  download(await response.blob(), named ? named[1] : `chat-${chat.id}.${format === "json" ? "json" : "md"}`);
}

let deleteArmed = null;
async function deleteChat() {
  const button = $("delete-chat");
  if (!deleteArmed) {
    button.textContent = "Confirm delete";
    deleteArmed = setTimeout(() => { deleteArmed = null; button.textContent = "Delete"; }, 4000);
    return;
  }
  clearTimeout(deleteArmed);
  deleteArmed = null;
  button.textContent = "Delete";
  await api("DELETE", `/chats/${conversation.chat.id}`);
  location.hash = "#/chats";
  await loadChats();
}

/** Wires the chats view's controls. */
export function wireChats() {
  $("show-archived").addEventListener("change", () => guarded(loadChats));
  $("more-chats").addEventListener("click", () => guarded(() => loadChats(true)));
  let timer = null;
  $("search").addEventListener("input", (event) => {
    clearTimeout(timer);
    timer = setTimeout(() => search(event.target.value), 300);
  });
  $("search-form").addEventListener("submit", (event) => { event.preventDefault(); search($("search").value); });
  $("import-file").addEventListener("change", (event) => {
    const file = event.target.files[0];
    if (file) guarded(() => importFile(file)).finally(() => { event.target.value = ""; });
  });
  $("title-form").addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(() => patchChat({ title: $("chat-title").value }));
  });
  $("pin-chat").addEventListener("click", () => guarded(() => patchChat({ pinned: !conversation.chat.pinned })));
  $("archive-chat").addEventListener("click", () => guarded(() => patchChat({ archived: !conversation.chat.archived })));
  $("export-json").addEventListener("click", () => guarded(() => exportChat("json")));
  $("export-md").addEventListener("click", () => guarded(() => exportChat("markdown")));
  $("delete-chat").addEventListener("click", () => guarded(deleteChat));
  $("save-settings").addEventListener("click", () => guarded(async () => {
    await patchChat({ model: $("model").value || null, system_prompt: $("system-prompt").value.trim() || null });
    notice("Saved: the chat's next turn uses them.", "info");
  }));
}
