// Building the page from text: every string goes in as a text node, never as HTML, so nothing
// a task carries (a payload, an error message) can become markup.

/** An element: `h("td", {class: "num"}, "12")`. Attributes starting with `on` are listeners. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A table: `columns` are `[heading, (row) => cell, class?]`. */
export function table(columns, rows, { empty = "Nothing here.", rowAttrs } = {}) {
  if (!rows.length) return h("p", { class: "muted empty" }, empty);
  return h(
    "table",
    {},
    h("thead", {}, h("tr", {}, columns.map(([heading, , cls]) => h("th", { class: cls }, heading)))),
    h(
      "tbody",
      {},
      rows.map((row) =>
        h("tr", rowAttrs ? rowAttrs(row) : {}, columns.map(([, cell, cls]) => h("td", { class: cls }, cell(row)))),
      ),
    ),
  );
}

/** A small coloured label. */
export function badge(text, tone = "") {
  return h("span", { class: `badge ${tone}` }, text);
}

/** A card with a big figure. */
export function stat(label, value, tone = "") {
  return h("div", { class: `stat ${tone}` }, h("div", { class: "value" }, value), h("div", { class: "label" }, label));
}

export function section(title, ...children) {
  return h("section", {}, h("h2", {}, title), ...children);
}

const numberFormat = new Intl.NumberFormat("en-US");

export function num(n) {
  return n === null || n === undefined ? "–" : numberFormat.format(n);
}

/** Milliseconds as "850 ms", "12.3 s", "4 min", "2 h", "3 d". */
export function duration(ms) {
  if (ms === null || ms === undefined) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}

/** An RFC 3339 time as "12 s ago" / "in 4 min", with the exact time as its tooltip. */
export function when(iso) {
  if (!iso) return h("span", { class: "muted" }, "–");
  const at = new Date(iso);
  const delta = at.getTime() - Date.now();
  const text = delta > 0 ? `in ${duration(delta)}` : `${duration(-delta)} ago`;
  return h("time", { datetime: iso, title: at.toISOString() }, text);
}

/** A link inside the dashboard. */
export function link(hash, text) {
  return h("a", { href: hash }, text);
}

/** JSON, pretty, as a block of text. */
export function code(value) {
  return h("pre", { class: "code" }, JSON.stringify(value, null, 2));
}

/** A short notice at the bottom of the page. */
export function toast(message, tone = "") {
  const el = document.getElementById("toast");
  el.className = tone;
  el.textContent = message;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (el.hidden = true), 4000);
}
