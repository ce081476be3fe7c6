// Server-Sent Events read with fetch and a ReadableStream (so the token travels in the Authorization header,
// which EventSource cannot send), and a reply followed to its end across broken connections: each `delta`'s
// id is the reply's length in Unicode scalars after it, so a reattach with `Last-Event-ID` continues exactly
// where the text stopped, with no duplicate and no gap.

import { request } from "./api.js";

/** Reads an event stream, calling `onEvent({event, id, data})` for each event (comments are skipped). */
export async function readEvents(response, onEvent) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + (buffer[end] === "\r" ? 4 : 2));
      const parsed = parseEvent(block);
      if (parsed) onEvent(parsed);
    }
  }
}

function parseEvent(block) {
  let event = "message";
  let id = null;
  const data = [];
  for (const line of block.split(/\r?\n/)) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "id") id = value;
    else if (field === "data") data.push(value);
  }
  if (data.length === 0) return null;
  try {
    return { event, id, data: JSON.parse(data.join("\n")) };
  } catch {
    return null;
  }
}

/** The length of a text in Unicode scalars, the unit of the API's offsets. */
export function scalarLength(text) {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}

/**
 * One reply being followed: its text so far and its offset. `consume` reads one stream (a turn's POST or a
 * reattach) into it; `follow` reattaches until the reply ends, retrying when the connection breaks.
 */
export class ReplyFollower {
  constructor({ chatID, messageID = null, text = "", onStart, onDelta, onEnd }) {
    this.chatID = chatID;
    this.messageID = messageID;
    this.text = text;
    this.offset = scalarLength(text);
    this.ended = false;
    this.onStart = onStart || (() => {});
    this.onDelta = onDelta || (() => {});
    this.onEnd = onEnd || (() => {});
    this.abort = new AbortController();
  }

  /** Reads one stream's events; returns when it ends (normally or not). */
  async consume(response) {
    await readEvents(response, (event) => this.handle(event));
  }

  handle({ event, id, data }) {
    if (event === "start") {
      this.messageID = data.assistant_message_id;
      this.chatID = data.chat_id;
      this.onStart(data);
    } else if (event === "delta") {
      const offset = Number(id);
      if (Number.isInteger(offset) && offset <= this.offset) return;
      this.text += data.content;
      this.offset = Number.isInteger(offset) ? offset : scalarLength(this.text);
      this.onDelta(this.text);
    } else if (event === "done") {
      this.finish({ message: data.message, usage: data.usage });
    } else if (event === "error") {
      // 409: this stream fell behind or the role changed; the reply goes on, so reattach.
      if (data.status === 409 && this.messageID !== null && !/cancelled/i.test(data.detail)) return;
      this.finish({ error: data });
    }
  }

  finish(outcome) {
    if (this.ended) return;
    this.ended = true;
    this.onEnd(outcome);
  }

  /** Reattaches (after `Last-Event-ID`) until the reply ends or `stop` is called; waits between tries. */
  async follow() {
    let pause = 250;
    while (!this.ended && !this.abort.signal.aborted) {
      const before = this.offset;
      try {
        const response = await request(
          "GET", `/chats/${this.chatID}/messages/${this.messageID}/stream`,
          { extraHeaders: { "Last-Event-ID": String(this.offset), Accept: "text/event-stream" }, signal: this.abort.signal });
        await this.consume(response);
      } catch (error) {
        if (this.abort.signal.aborted) return;
        if (error.status && error.status < 500 && error.status !== 429) {
          this.finish({ error: { detail: error.message, status: error.status } });
          return;
        }
      }
      if (this.ended || this.abort.signal.aborted) return;
      // Waits longer after each try that brought no text (at most 5 s), and not at all after one that did.
      pause = this.offset > before ? 0 : Math.min(Math.max(pause * 2, 250), 5000);
      await waitForNetwork(pause);
    }
  }

  stop() { this.abort.abort(); }
}

/** Waits `ms`, or less if the browser says it is back online. */
function waitForNetwork(ms) {
  return new Promise((resolve) => {
    const done = () => { clearTimeout(timer); window.removeEventListener("online", done); resolve(); };
    const timer = setTimeout(done, ms);
    window.addEventListener("online", done);
  });
}
