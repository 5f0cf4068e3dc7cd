//! A request rate per client: a token bucket per client (`api.client_rate_per_sec` tokens a
//! second, at most `api.client_burst` saved up). A request without a token is answered 429
//! `rate_limited` with `Retry-After` (whole seconds until the next token), and costs nothing
//! else: no Redis call, no handler.
//!
//! Who the client is: the caller, when the request presents a valid API key or JWT (its
//! [`Caller::id`](crate::auth::Caller), so every replica of one service sharing a key shares a
//! bucket, and callers behind one address each have their own); otherwise its [`ClientIp`], an
//! IPv6 client by its /64. So an anonymous client, or one sending tokens that do not verify,
//! cannot use up a keyed caller's rate, nor a keyed caller the rate of its address. The token
//! is checked here once ([`Presented`], which the routes' gates then read).
//!
//! The buckets are in this process (each API replica limits on its own, so N replicas let a
//! client make N times the rate; the upstream limits that matter are the workers', which are
//! global). Behind a proxy, list it in `api.trusted_proxies` so each client behind it gets its
//! own bucket rather than all sharing the proxy's. Memory stays bounded: a shard that grows past
//! [`MAX_CLIENTS_PER_SHARD`] forgets every client whose bucket has refilled.

use std::{
    borrow::Borrow,
    collections::HashMap,
    hash::Hash,
    net::IpAddr,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::{Duration, Instant},
};

use axum::{
    extract::Request,
    response::{IntoResponse, Response},
};
use futures::future::{Either, Ready, ready};
use tower::{Layer, Service};

use super::client_ip::{ClientIp, client_key};
use crate::{ApiError, AppState, auth::Presented};

/// Shards of a client table, so concurrent requests rarely wait on one lock.
const SHARDS: usize = 16;
/// Clients remembered per shard before full buckets are forgotten.
const MAX_CLIENTS_PER_SHARD: usize = 4_096;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// A client table: a bucket per `K`, in [`SHARDS`] shards.
#[derive(Debug)]
struct Buckets<K>([Mutex<HashMap<K, Bucket>>; SHARDS]);

impl<K: Hash + Eq> Buckets<K> {
    fn new() -> Self {
        Self(std::array::from_fn(|_| Mutex::new(HashMap::new())))
    }

    /// Takes a token from `client`'s bucket in `shard` at `now` (see [`ClientLimiter::take`]).
    fn take<Q>(
        &self,
        shard: usize,
        client: &Q,
        now: Instant,
        rate: f64,
        burst: f64,
    ) -> Result<(), Duration>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let mut table = self.0[shard % SHARDS]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if table.len() >= MAX_CLIENTS_PER_SHARD && !table.contains_key(client) {
            table.retain(|_, b| refill(b, now, rate, burst) < burst);
        }
        let bucket = match table.get_mut(client) {
            Some(bucket) => bucket,
            None => table.entry(client.to_owned()).or_insert(Bucket {
                tokens: burst,
                at: now,
            }),
        };
        let tokens = refill(bucket, now, rate, burst);
        if tokens >= 1.0 {
            bucket.tokens = tokens - 1.0;
            bucket.at = now;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - tokens) / rate))
        }
    }
}

/// Who a bucket belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client<'a> {
    /// An anonymous request's address.
    Ip(IpAddr),
    /// A verified caller's [`Caller::id`](crate::auth::Caller).
    Caller(&'a str),
}

/// The buckets of every client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ClientLimiter {
    by_ip: Arc<Buckets<IpAddr>>,
    by_caller: Arc<Buckets<String>>,
    rate: f64,
    burst: f64,
}

impl ClientLimiter {
    /// `None` when `per_sec` is 0 (no limit). The burst is at least one request.
    pub fn new(per_sec: u32, burst: u32) -> Option<Self> {
        (per_sec > 0).then(|| Self {
            by_ip: Arc::new(Buckets::new()),
            by_caller: Arc::new(Buckets::new()),
            rate: f64::from(per_sec),
            burst: f64::from(burst.max(1)),
        })
    }

    /// Takes a token for `client` at `now`; when there is none, how long until there is.
    pub fn take(&self, client: Client<'_>, now: Instant) -> Result<(), Duration> {
        match client {
            Client::Ip(ip) => {
                let ip = client_key(ip);
                self.by_ip
                    .take(shard_of_ip(ip), &ip, now, self.rate, self.burst)
            }
            Client::Caller(id) => {
                let shard = id
                    .bytes()
                    .fold(0usize, |h, b| h.wrapping_mul(31) ^ usize::from(b));
                self.by_caller.take(shard, id, now, self.rate, self.burst)
            }
        }
    }
}

/// The tokens `bucket` holds at `now` (not stored).
fn refill(bucket: &Bucket, now: Instant, rate: f64, burst: f64) -> f64 {
    let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
    (bucket.tokens + elapsed * rate).min(burst)
}

/// `client` is a [`client_key`]: an IPv6 key's last 64 bits are zero, so its /64 decides.
fn shard_of_ip(client: IpAddr) -> usize {
    let last = match client {
        IpAddr::V4(v4) => v4.octets()[3],
        IpAddr::V6(v6) => v6.octets()[7],
    };
    usize::from(last)
}

/// The layer that applies the process's [`ClientLimiter`] ([`AppState::client_limiter`]) to
/// every request ([`Limited`]); the state's authenticator names the caller.
#[derive(Debug, Clone)]
pub struct LimitLayer(pub AppState);

impl<S> Layer<S> for LimitLayer {
    type Service = Limited<S>;

    fn layer(&self, inner: S) -> Limited<S> {
        Limited {
            inner,
            state: self.0.clone(),
        }
    }
}

/// Lets a request through when its client has a token (see the module doc), and leaves what
/// its `Authorization` presented in the extensions. Anonymous requests without a [`ClientIp`]
/// (none reach here through `serve`) are let through. A plain service: no boxed future, no
/// clone of the stack below it per request.
#[derive(Debug, Clone)]
pub struct Limited<S> {
    inner: S,
    state: AppState,
}

impl<S> Service<Request> for Limited<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Either<Ready<Result<Response, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let presented = self.state.authenticator().present(request.headers());
        let client = match &presented {
            Presented::Valid(caller) => caller.id.as_deref().map(Client::Caller),
            Presented::Nothing | Presented::Invalid => request
                .extensions()
                .get::<ClientIp>()
                .map(|ClientIp(ip)| Client::Ip(*ip)),
        };
        if let Some(client) = client
            && let Some(limiter) = self.state.client_limiter()
            && let Err(wait) = limiter.take(client, Instant::now())
        {
            let refused = ApiError::RateLimited {
                retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
            };
            return Either::Left(ready(Ok(refused.into_response())));
        }
        request.extensions_mut().insert(presented);
        Either::Right(self.inner.call(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_burst_then_its_rate_and_others_are_not_affected() {
        let limiter = ClientLimiter::new(2, 3).unwrap();
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.take(Client::Ip(a), t0).is_ok());
        }
        let wait = limiter.take(Client::Ip(a), t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        assert!(
            limiter.take(Client::Ip(b), t0).is_ok(),
            "another client has its own bucket"
        );
        // Half a second later one token has come back, and only one.
        let t1 = t0 + Duration::from_millis(500);
        assert!(limiter.take(Client::Ip(a), t1).is_ok());
        assert!(limiter.take(Client::Ip(a), t1).is_err());
    }

    #[test]
    fn addresses_of_one_ipv6_slash_64_share_a_bucket() {
        let limiter = ClientLimiter::new(1, 1).unwrap();
        let t0 = Instant::now();
        assert!(
            limiter
                .take(Client::Ip("2001:db8::1".parse().unwrap()), t0)
                .is_ok()
        );
        assert!(
            limiter
                .take(Client::Ip("2001:db8::2".parse().unwrap()), t0)
                .is_err()
        );
        assert!(
            limiter
                .take(Client::Ip("2001:db8:0:1::1".parse().unwrap()), t0)
                .is_ok()
        );
    }

    #[test]
    fn a_caller_has_a_bucket_of_its_own_apart_from_its_address() {
        let limiter = ClientLimiter::new(1, 2).unwrap();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..2 {
            assert!(limiter.take(Client::Caller("key:0123456789ab"), t0).is_ok());
        }
        assert!(
            limiter
                .take(Client::Caller("key:0123456789ab"), t0)
                .is_err()
        );
        assert!(
            limiter.take(Client::Caller("key:ba9876543210"), t0).is_ok(),
            "another key"
        );
        assert!(
            limiter.take(Client::Ip(ip), t0).is_ok(),
            "the address's anonymous requests have their own bucket"
        );
    }

    #[test]
    fn no_rate_is_no_limiter() {
        assert!(ClientLimiter::new(0, 10).is_none());
    }

    #[test]
    fn a_full_shard_forgets_clients_whose_bucket_has_refilled() {
        let limiter = ClientLimiter::new(1_000, 1).unwrap();
        let t0 = Instant::now();
        for i in 0..(MAX_CLIENTS_PER_SHARD as u32 + 10) {
            // Same last byte, so the same shard.
            let ip = IpAddr::from(std::net::Ipv4Addr::from((i << 8) | 7));
            assert!(
                limiter
                    .take(Client::Ip(ip), t0 + Duration::from_secs(u64::from(i)))
                    .is_ok()
            );
        }
        let held = limiter.by_ip.0[7].lock().unwrap().len();
        assert!(held <= MAX_CLIENTS_PER_SHARD, "{held}");
    }
}
