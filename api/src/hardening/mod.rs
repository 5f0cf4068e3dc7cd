//! What keeps the API safe on the open internet, besides auth and input validation: one
//! middleware per concern, put around the router by [`crate::routes::router`].
//!
//! | file | concern |
//! |---|---|
//! | [`request_id`] | an `x-request-id` on every request and response (kept when the caller sent one), and in the request's log span |
//! | [`security_headers`] | `nosniff`, no framing, no referrer, a restrictive CSP on every response |
//! | [`cors`] | cross-origin access only for the origins `api.cors_origins` names |
//! | [`client_ip`] | who a client is: its address, or behind `api.trusted_proxies` the one `X-Forwarded-For` names; IPv6 by /64 |
//! | [`client_limit`] | a request rate per client (a valid key's caller, else the address), `api.client_rate_per_sec` / `api.client_burst`; 429 with `Retry-After` past it |
//! | [`client_slots`] | how many connections or streams each client holds, with a cap per client |
//! | [`request_timeout`] | a 503 to a request not answered in time (three Redis timeouts, at least 10 s), with no timer armed for one answered at once |
//! | [`connections`] | connections per process and per client, and the header-read timeout, decided at accept |

pub mod client_ip;
pub mod client_limit;
pub mod client_slots;
pub mod connections;
pub mod cors;
pub mod request_id;
pub mod request_timeout;
pub mod security_headers;
