// The dashboard's shell: who the caller is, the navigation it may use, the page router, and
// the sign-in dialog. Each page is a module in `pages/` with `render(main, ctx)`.

import { me, session, ApiError } from "./api.js";
import { h, fill, toast } from "./dom.js";
import * as overview from "./overview.js";
import * as queue from "./queue.js";
import * as task from "./task.js";
import * as search from "./search.js";
import * as dead from "./dead.js";
import * as schedules from "./schedules.js";
import * as workers from "./workers.js";
import * as upstreams from "./upstreams.js";
import * as prices from "./prices.js";
import * as wallets from "./wallets.js";

// [hash pattern, page, navigation entry ([label, hash]; none: not in the navigation), what
// `GET /v1/me` must allow]. A pattern's groups are the page's parameters, as written in the
// address (a page decodes what it needs decoded).
const ROUTES = [
  [/^#?\/?$/, overview, ["Overview", "#/"], (may) => may.queues],
  [/^#\/queues\/([^/]+)$/, queue, null, (may) => may.queues],
  [/^#\/search(?:\?(.*))?$/, search, ["Search", "#/search"], (may) => may.tasks],
  [/^#\/tasks\/([^/]+)$/, task, null, (may) => may.tasks],
  [/^#\/dead(?:\/([^/]+))?$/, dead, ["Dead letters", "#/dead"], (may) => may.admin],
  [/^#\/schedules(?:\/([^/]+))?$/, schedules, ["Schedules", "#/schedules"], (may) => may.schedules],
  [/^#\/workers$/, workers, ["Workers", "#/workers"], (may) => may.workers],
  [/^#\/upstreams$/, upstreams, ["Upstreams", "#/upstreams"], (may) => may.health],
  [/^#\/prices$/, prices, ["Prices", "#/prices"], (may) => may.market_reads],
  [/^#\/wallets$/, wallets, ["Wallets", "#/wallets"], (may) => may.market_reads],
];

let caller = null; // the answer of GET /v1/me
let stopPage = () => {};

async function start() {
  wireSignIn();
  window.addEventListener("hashchange", route);
  await identify();
}

/** Asks the API what this tab's token may do; a token it no longer accepts is dropped. */
async function identify() {
  try {
    caller = await me();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401 && session.token) {
      session.token = null;
      toast("The saved token is no longer accepted; signed out.", "error");
      caller = await me().catch(() => null);
    }
    if (!caller) {
      fill(document.getElementById("main"), h("p", { class: "error" }, `The API did not answer: ${e.message}`));
      return;
    }
  }
  renderChrome();
  route();
}

function renderChrome() {
  const may = caller.may;
  const nav = document.getElementById("nav");
  fill(
    nav,
    ROUTES.map(([, , entry, allowed]) => (entry && allowed(may) ? h("a", { href: entry[1], "data-nav": entry[1] }, entry[0]) : null)),
  );
  const who = document.getElementById("who");
  who.textContent = caller.role ? `${caller.caller} · ${caller.role}` : "not signed in";
  document.getElementById("sign-out").hidden = !caller.role;
  document.getElementById("sign-in-open").hidden = !!caller.role;
  document.body.classList.toggle("read-only", !may.admin);
}

function route() {
  stopPage();
  stopPage = () => {};
  const main = document.getElementById("main");
  const hash = location.hash || "#/";
  for (const a of document.querySelectorAll("#nav a")) {
    const target = a.dataset.nav;
    a.classList.toggle("current", target === "#/" ? hash === "#/" || hash.startsWith("#/queues") : hash.startsWith(target));
  }
  for (const [pattern, page, , allowed] of ROUTES) {
    const match = hash.match(pattern);
    if (!match) continue;
    if (!allowed(caller.may)) {
      fill(
        main,
        h(
          "div",
          { class: "notice" },
          h("p", {}, caller.role ? `Your role (${caller.role}) may not see this page.` : "Sign in to see this page."),
          caller.role ? null : h("button", { onclick: openSignIn }, "Sign in"),
        ),
      );
      return;
    }
    const timers = [];
    const ctx = {
      me: caller,
      params: match.slice(1),
      /** Runs `fn` now and every `ms` until the page is left. */
      every(ms, fn) {
        let busy = false;
        const tick = async () => {
          if (busy) return;
          busy = true;
          try {
            await fn();
          } catch (e) {
            reportError(e);
          } finally {
            busy = false;
          }
        };
        tick();
        timers.push(setInterval(tick, ms));
      },
      /** Runs `stop` when the page is left. */
      onLeave(stop) {
        timers.push(stop);
      },
    };
    fill(main);
    Promise.resolve(page.render(main, ctx)).catch(reportError);
    stopPage = () => timers.forEach((t) => (typeof t === "function" ? t() : clearInterval(t)));
    return;
  }
  fill(main, h("p", {}, "No such page. "), h("a", { href: "#/" }, "Overview"));
}

function reportError(e) {
  if (e instanceof ApiError && e.status === 401) {
    toast("Your token was refused: sign in again.", "error");
  } else {
    toast(e.message, "error");
  }
}

function openSignIn() {
  const dialog = document.getElementById("sign-in");
  document.getElementById("sign-in-error").hidden = true;
  document.getElementById("token").value = "";
  dialog.showModal();
}

function wireSignIn() {
  const dialog = document.getElementById("sign-in");
  document.getElementById("sign-in-open").addEventListener("click", openSignIn);
  document.getElementById("sign-in-cancel").addEventListener("click", () => dialog.close());
  document.getElementById("sign-out").addEventListener("click", async () => {
    session.token = null;
    await identify();
  });
  document.getElementById("sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = document.getElementById("token").value.trim();
    const error = document.getElementById("sign-in-error");
    try {
      const answer = await me(token);
      if (!answer.role) throw new Error("no token was read");
      session.token = token;
      dialog.close();
      await identify();
      toast(`Signed in as ${answer.caller} (${answer.role}).`);
    } catch (e) {
      error.textContent = e instanceof ApiError && e.status === 401 ? "That token is not valid here." : e.message;
      error.hidden = false;
    }
  });
}

export { openSignIn };

start();
