// Talking to the API: the token of this tab, JSON requests in the API's one error shape, and
// the live price stream.

const TOKEN = "coinbeat.token";

export const session = {
  /** The token this tab signed in with, if any (kept for the tab only). */
  get token() {
    return sessionStorage.getItem(TOKEN);
  },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN, value);
    else sessionStorage.removeItem(TOKEN);
  },
};

/** A refusal or failure of the API: its status, code and message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function headers(extra = {}, token = session.token) {
  const out = { Accept: "application/json", ...extra };
  if (token) out.Authorization = `Bearer ${token}`;
  return out;
}

/** `method path` with an optional JSON body; the parsed JSON, or throws an `ApiError`. */
export async function request(method, path, body, { token } = {}) {
  const init = { method, headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }, token) };
  if (body !== undefined) init.body = JSON.stringify(body);
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, "unreachable", `the API did not answer (${e.message})`);
  }
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: reported below by status
  }
  if (!response.ok) {
    const error = json?.error;
    throw new ApiError(response.status, error?.code ?? "http_error", error?.message ?? `HTTP ${response.status}`);
  }
  return json;
}

export const get = (path) => request("GET", path);
export const post = (path, body) => request("POST", path, body);
export const del = (path) => request("DELETE", path);

/** What a token (this tab's by default) may do: `GET /v1/me`. */
export function me(token = session.token) {
  return request("GET", "/v1/me", undefined, { token });
}

/**
 * Follows a Server-Sent Events route with this tab's token (an `EventSource` cannot send one).
 * Calls `onEvent(name, data)` per event and `onState("open" | "retrying", detail)`; reconnects
 * after a second when the stream ends. Returns a function that stops it.
 */
export function follow(path, onEvent, onState = () => {}) {
  let controller = new AbortController();
  let stopped = false;
  async function run() {
    while (!stopped) {
      try {
        const response = await fetch(path, { headers: headers({ Accept: "text/event-stream" }), signal: controller.signal });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        onState("open");
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            dispatch(buffer.slice(0, end), onEvent);
            buffer = buffer.slice(end + 2);
          }
        }
        if (!stopped) onState("retrying", "the stream ended");
      } catch (e) {
        if (stopped) return;
        onState("retrying", e.message);
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
  run();
  return () => {
    stopped = true;
    controller.abort();
  };
}

function dispatch(block, onEvent) {
  let name = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") name = value;
    else if (field === "data") data.push(value);
  }
  if (!data.length) return;
  try {
    onEvent(name, JSON.parse(data.join("\n")));
  } catch {
    // an event that is not JSON is not one of ours
  }
}
