// Building the page's elements. Text from the API (messages, titles, emails, errors) only ever becomes text
// nodes (`textContent`); nothing the server or a user wrote is parsed as HTML.

/** An element with attributes (`data-*`, `aria-*`, properties like `disabled`) and children (nodes or text). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name in node && !name.includes("-")) node[name] = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function $(id) { return document.getElementById(id); }

/** Replaces an element's children. */
export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
}

/** Shows a message at the top of the page (errors as the API wrote them); empty hides it. */
let noticeTimer = null;
export function notice(text, kind = "error") {
  const box = $("notice");
  box.textContent = text || "";
  box.className = `notice ${kind}`;
  box.hidden = !text;
  clearTimeout(noticeTimer);
  if (text && kind !== "error") noticeTimer = setTimeout(() => { box.hidden = true; }, 4000);
}

/** Runs an action, showing its error instead of losing it. */
export async function guarded(action) {
  try {
    return await action();
  } catch (error) {
    notice(error.message || String(error));
    return undefined;
  }
}

const ENTITIES = { amp: "&", lt: "<", gt: ">", quot: "\"", "#39": "'", "#x27": "'", apos: "'" };

/**
 * A search snippet (HTML: text escaped, matches in `<mark>`) as nodes, without an HTML parser: the text
 * between marks becomes text nodes with the entities decoded, each match a `mark` element. Any other tag
 * stays visible as text.
 */
export function snippetNodes(snippet) {
  const nodes = [];
  const parts = String(snippet).split(/(<mark>|<\/mark>)/);
  let marked = false;
  for (const part of parts) {
    if (part === "<mark>") { marked = true; continue; }
    if (part === "</mark>") { marked = false; continue; }
    const text = part.replace(/&(amp|lt|gt|quot|#39|#x27|apos);/g, (_, name) => ENTITIES[name]);
    if (text) nodes.push(marked ? el("mark", { text }) : document.createTextNode(text));
  }
  return nodes;
}

/** A time from the API as the reader's local date and time. */
export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** Downloads a blob under a file name. */
export function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = el("a", { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
