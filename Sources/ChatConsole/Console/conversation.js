// The open conversation: its active path (from the message tree), sending with the reply streaming in,
// cancel, regenerate, edit, switching branches, and reattaching to a reply still being generated (after a
// reload or a lost connection) from exactly where its text stopped.

import { api, request } from "./api.js";
import { $, el, guarded, notice, replace } from "./dom.js";
import { messageElement } from "./messages.js";
import { ReplyFollower } from "./stream.js";

const state = {
  chat: null,
  tree: [],
  follower: null,
  pendingUser: null,
  listeners: { chatChanged: () => {}, turnEnded: () => {} },
};

export const conversation = {
  get chat() { return state.chat; },
  set listeners(value) { state.listeners = value; },
};

/** Opens a chat (null: a blank conversation, which the first message creates); `focusID` scrolls to a message. */
export async function openChat(chatID, focusID = null) {
  if (state.chat?.id !== chatID || !chatID) {
    stopFollowing();
    state.chat = null;
    state.tree = [];
    render();
    state.chat = chatID ? await api("GET", `/chats/${chatID}`) : null;
    state.listeners.chatChanged(state.chat);
  }
  await reloadTree();
  if (focusID !== null) await focusMessage(focusID);
  resumeIfStreaming();
}

/** Takes a newer copy of the open chat (after a change to its title, pin, archive or settings). */
export function updateChat(chat) {
  if (state.chat?.id === chat.id) state.chat = chat;
}

export function closeChat() {
  stopFollowing();
  state.chat = null;
  state.tree = [];
}

function stopFollowing() {
  state.follower?.stop();
  state.follower = null;
  state.pendingUser = null;
  setBusy(false);
}

/** Reads the whole tree (every branch) and draws the active path. */
export async function reloadTree() {
  if (state.chat) {
    const chatID = state.chat.id;
    const tree = await api("GET", `/chats/${chatID}/messages?tree=true&limit=500`);
    if (state.chat?.id !== chatID) return;
    state.tree = tree;
  }
  render();
}

function activePath() {
  return state.tree.filter((message) => message.active).sort((a, b) => a.id - b.id);
}

/** Draws the active path; the reply being followed shows the follower's text. */
function render() {
  const follower = state.follower;
  const path = activePath().map((message) =>
    follower && message.id === follower.messageID
      ? { ...message, content: follower.text, status: "streaming" } : message);
  if (follower && state.pendingUser && !path.some((m) => m.id === follower.userMessageID)) {
    path.push({ id: 0, role: "user", content: state.pendingUser, status: "complete" });
  }
  if (follower && follower.messageID !== null && !path.some((m) => m.id === follower.messageID)) {
    path.push({ id: follower.messageID, role: "assistant", content: follower.text, status: "streaming" });
  }
  const busy = Boolean(follower);
  replace($("messages"), path.map((message) => messageElement(message, actions, busy)));
  if (!state.chat && path.length === 0) $("messages").append(el("li", { class: "empty", text: "Send a message to start a chat." }));
}

/** Updates the followed reply's text in place (or redraws when its element is not there yet). */
function showLiveText(text) {
  const node = document.querySelector(`[data-message-id="${state.follower?.messageID}"] .text`);
  if (node) {
    node.textContent = text;
    node.scrollIntoView({ block: "end" });
  } else {
    render();
  }
}

const actions = {
  regenerate: (message) => startTurn(`/chats/${state.chat.id}/messages/${message.id}/regenerate`, { stream: true }),
  edit: (message, content) => startTurn(`/chats/${state.chat.id}/messages/${message.id}/edit`, { content, stream: true }),
  switchTo: (messageID) => guarded(async () => {
    await api("POST", `/chats/${state.chat.id}/active`, { message_id: messageID });
    await reloadTree();
  }),
};

/** Sends the composer's text as a new turn (creating the chat when none is open). */
export function send(text) {
  if (state.follower || !text.trim()) return false;
  const body = { message: text, stream: true };
  if (state.chat) body.chat_id = state.chat.id;
  startTurn("/chat", body, text);
  return true;
}

function newFollower(chatID) {
  return new ReplyFollower({
    chatID,
    onStart: (data) => onStart(data),
    onDelta: (text) => showLiveText(text),
    onEnd: (outcome) => onEnd(outcome),
  });
}

/** Runs one turn as an event stream; when its connection breaks, follows the reply by reattaching. */
async function startTurn(path, body, pendingUser = null) {
  if (state.follower) return;
  const follower = newFollower(state.chat?.id ?? null);
  state.follower = follower;
  state.pendingUser = pendingUser;
  setBusy(true);
  render();
  try {
    const response = await request("POST", path, { body, extraHeaders: { Accept: "text/event-stream" }, signal: follower.abort.signal });
    await follower.consume(response);
  } catch (error) {
    if (error.status) {
      refused(follower, error);
      return;
    }
  }
  await continueAfterBreak(follower);
}

function refused(follower, error) {
  if (state.follower !== follower) return;
  state.follower = null;
  state.pendingUser = null;
  setBusy(false);
  notice(error.message);
  render();
}

/** The turn's stream ended without `done` or `error`: reattach to its reply until it ends. */
async function continueAfterBreak(follower) {
  if (follower.ended || state.follower !== follower || follower.abort.signal.aborted) return;
  if (follower.messageID === null) {
    // Broken before `start`: the reply, if one was started, is the active path's last message.
    await guarded(reloadTree);
    const last = activePath().at(-1);
    if (!last || last.role !== "assistant" || last.status !== "streaming") { follower.finish({}); return; }
    follower.messageID = last.id;
    follower.text = "";
    follower.offset = 0;
  }
  await follower.follow();
}

function onStart(data) {
  const follower = state.follower;
  follower.userMessageID = data.user_message?.id;
  if (!state.chat || state.chat.id !== data.chat_id) {
    guarded(async () => {
      state.chat = await api("GET", `/chats/${data.chat_id}`);
      state.listeners.chatChanged(state.chat, true);
      await reloadTree();
    });
  } else {
    guarded(reloadTree);
  }
}

function onEnd(outcome) {
  state.follower = null;
  state.pendingUser = null;
  setBusy(false);
  if (outcome.error && !/cancelled/i.test(outcome.error.detail || "")) notice(outcome.error.detail);
  guarded(reloadTree);
  state.listeners.turnEnded();
}

/** After a reload or on opening a chat: follow its reply still being generated, from its saved text. */
function resumeIfStreaming() {
  if (state.follower || !state.chat) return;
  const last = activePath().at(-1);
  if (!last || last.role !== "assistant" || last.status !== "streaming") return;
  const follower = newFollower(state.chat.id);
  follower.messageID = last.id;
  follower.text = last.content;
  follower.offset = [...last.content].length;
  state.follower = follower;
  setBusy(true);
  render();
  follower.follow();
}

export async function cancel() {
  if (!state.chat) return;
  await guarded(() => api("POST", `/chats/${state.chat.id}/cancel`));
}

function setBusy(busy) {
  $("send").disabled = busy;
  $("cancel").disabled = !busy;
}

/** Scrolls to a message of the chat, switching to its branch when it is not on the active path. */
async function focusMessage(messageID) {
  const message = state.tree.find((m) => m.id === messageID);
  if (message && !message.active && !state.follower) {
    await guarded(() => api("POST", `/chats/${state.chat.id}/active`, { message_id: messageID }));
    await reloadTree();
  }
  const node = document.querySelector(`[data-message-id="${messageID}"]`);
  if (!node) return;
  node.classList.add("focused");
  node.scrollIntoView({ block: "center" });
  node.focus();
}
