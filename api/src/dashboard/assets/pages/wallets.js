// Wallets: the watched wallets (admin) and their latest analyses, or any address looked up;
// a caller who may enqueue can ask for a new analysis.

import { get, post } from "./api.js";
import { h, fill, table, num, when, badge, toast } from "./dom.js";

export async function render(main, ctx) {
  const may = ctx.me.may;
  const list = h("div");
  const input = h("input", { id: "wallet-address", placeholder: "0x… address", size: 46, autocomplete: "off" });
  const lookup = h(
    "form",
    {
      class: "inline",
      onsubmit: (e) => {
        e.preventDefault();
        const address = input.value.trim();
        if (address) draw([address]);
      },
    },
    input,
    h("button", { type: "submit" }, "Look up"),
  );
  fill(main, h("h1", {}, "Wallets"), lookup, list);

  async function analysis(address) {
    try {
      return await get(`/v1/wallets/${encodeURIComponent(address)}`);
    } catch (e) {
      return { address, missing: e.status === 404 ? "not analysed yet" : e.message };
    }
  }

  async function draw(addresses) {
    const rows = await Promise.all(addresses.map(analysis));
    fill(
      list,
      table(
        [
          ["address", (w) => h("span", { class: "mono" }, w.checksum_address ?? w.address)],
          ["balance", (w) => (w.missing ? h("span", { class: "muted" }, w.missing) : `${w.balance} ${w.native_symbol}`), "num"],
          ["USD", (w) => (w.balance_usd ? num(Number(w.balance_usd).toFixed(2)) : "–"), "num"],
          ["transactions", (w) => num(w.transaction_count), "num"],
          ["token transfers", (w) => num(w.token_transfer_count), "num"],
          ["last activity", (w) => when(w.last_activity_at)],
          ["analysed", (w) => (w.missing ? "–" : [`${w.age_seconds} s ago `, w.stale ? badge("stale", "warn") : null])],
          [
            "",
            (w) =>
              may.enqueue
                ? h(
                    "button",
                    {
                      class: "small",
                      onclick: async () => {
                        try {
                          const answer = await post(`/v1/wallets/${encodeURIComponent(w.address)}/analyze`);
                          toast(answer.id ? `Analysis enqueued: ${answer.id}` : "A fresh analysis is cached");
                        } catch (e) {
                          toast(e.message, "error");
                        }
                      },
                    },
                    "Analyse",
                  )
                : null,
          ],
        ],
        rows,
        { empty: may.admin ? "No wallet is watched." : "Look up an address." },
      ),
    );
  }

  if (may.admin) {
    const watched = await get("/v1/admin/wallets");
    draw([...watched.settings, ...watched.added]);
  } else {
    draw([]);
  }
}
