// The console's entry: sign in and sign up, and the views by the address's fragment: `#/chats`,
// `#/chats/<id>`, `#/chats/<id>/m/<message id>`, `#/account` and `#/admin`. Nothing runs in the background.

import { APIError, api, session, whenSessionEnds } from "./api.js";
import { $, guarded, notice } from "./dom.js";
import { cancel, closeChat, conversation, openChat, send, updateChat } from "./conversation.js";
import { loadChats, showChatHeader, wireChats } from "./chats.js";
import { hideSecret, showAccount, wireAccount } from "./account.js";
import { showAdmin, wireAdmin } from "./admin.js";

const VIEWS = ["view-auth", "view-chats", "view-account", "view-admin"];

function show(view) {
  for (const id of VIEWS) $(id).hidden = id !== view;
  $("nav").hidden = view === "view-auth";
  for (const link of document.querySelectorAll("#nav a")) {
    const current = location.hash.startsWith(link.getAttribute("href"));
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

async function signIn(email, password) {
  const token = await api("POST", "/auth/login", { email, password });
  session.token = token.access_token;
  await loadUser();
}

async function loadUser() {
  session.user = await api("GET", "/auth/me");
  $("who").textContent = session.user.email;
  $("nav-admin").hidden = session.user.role !== "admin";
}

function signedOut(message = "") {
  session.token = null;
  session.user = null;
  closeChat();
  $("auth-error").textContent = message;
  show("view-auth");
  $("auth-form").elements.email.focus();
}

async function authenticate(register) {
  const form = $("auth-form");
  const email = form.elements.email.value;
  const password = form.elements.password.value;
  $("auth-error").textContent = "";
  try {
    if (register) await api("POST", "/auth/register", { email, password });
    await signIn(email, password);
    form.elements.password.value = "";
    if (!location.hash || location.hash === "#/") location.hash = "#/chats";
    else await route();
  } catch (error) {
    session.token = null;
    $("auth-error").textContent = error instanceof APIError ? error.message : `Cannot reach the server: ${error.message}`;
  }
}

/** Shows the view the fragment names. */
async function route() {
  if (!session.user) return;
  notice("");
  const hash = location.hash || "#/chats";
  if (hash !== "#/account") hideSecret();
  if (hash.startsWith("#/account")) { show("view-account"); await showAccount(); return; }
  if (hash.startsWith("#/admin") && session.user.role === "admin") { show("view-admin"); await showAdmin(); return; }
  show("view-chats");
  const match = /^#\/chats\/([0-9a-f-]{36})(?:\/m\/(\d+))?$/.exec(hash);
  await guarded(loadChats);
  await guarded(async () => {
    await openChat(match ? match[1] : null, match && match[2] ? Number(match[2]) : null);
    await showChatHeader(conversation.chat);
  });
}

async function refreshChat() {
  const chat = conversation.chat;
  if (chat) {
    const fresh = await api("GET", `/chats/${chat.id}`);
    updateChat(fresh);
    if (conversation.chat === fresh) await showChatHeader(fresh);
  }
  await loadChats();
}

function wireConversation() {
  $("composer-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (send($("composer").value)) $("composer").value = "";
  });
  $("composer").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer-form").requestSubmit();
    }
  });
  $("cancel").addEventListener("click", () => cancel());
  $("new-chat").addEventListener("click", () => guarded(async () => {
    const chat = await api("POST", "/chats", {});
    location.hash = `#/chats/${chat.id}`;
  }));
  conversation.listeners = {
    chatChanged: (chat, created) => {
      if (created && chat) history.replaceState(null, "", `#/chats/${chat.id}`);
      guarded(() => showChatHeader(chat));
      guarded(loadChats);
    },
    // A new chat's title is written by a call after its first reply: look again a little later.
    turnEnded: () => {
      guarded(loadChats);
      setTimeout(() => guarded(refreshChat), 2000);
    },
  };
}

function wire() {
  $("auth-form").addEventListener("submit", (event) => { event.preventDefault(); authenticate(false); });
  $("sign-up").addEventListener("click", () => authenticate(true));
  $("sign-out").addEventListener("click", async () => {
    await guarded(() => api("POST", "/auth/logout"));
    signedOut();
  });
  whenSessionEnds(() => signedOut("Your session has ended; sign in again."));
  window.addEventListener("hashchange", () => route());
  wireConversation();
  wireChats();
  wireAccount();
  wireAdmin();
}

async function start() {
  wire();
  if (!session.token) { signedOut(); return; }
  try {
    await loadUser();
  } catch {
    signedOut();
    return;
  }
  await route();
}

start();
