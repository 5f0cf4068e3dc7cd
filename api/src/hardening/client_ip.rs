//! Who a client is, for every per-client limit (request rate, connections, streams): its IP
//! address, or, for a request that came through one of `api.trusted_proxies`, the address that
//! proxy says it came from (`X-Forwarded-For`). [`identify`] puts the answer in the request's
//! extensions as [`ClientIp`]; [`client_key`] folds an IPv6 address to its /64, because one host
//! usually holds a whole /64 and could otherwise rotate through it.

use std::{
    net::{IpAddr, Ipv6Addr, SocketAddr},
    sync::Arc,
};

use axum::{
    extract::ConnectInfo,
    http::{HeaderMap, Request},
};
use ipnet::IpNet;

/// The client's address as the limits count it (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The networks whose `X-Forwarded-For` is believed. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    pub fn new(nets: &[IpNet]) -> Self {
        Self(nets.into())
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `peer`: `peer` itself unless it is trusted; otherwise the right-most
    /// `X-Forwarded-For` address that is not a trusted proxy (each proxy appends the address it
    /// was called from, so addresses left of the first untrusted one are the client's own
    /// claims and worth nothing). A header that cannot be read counts as absent.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        let hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect::<Vec<_>>();
        for hop in hops.iter().rev() {
            let Ok(ip) = hop.trim().parse::<IpAddr>().map(canonical) else {
                return client;
            };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

/// An IPv4 address written as IPv6 (`::ffff:a.b.c.d`, what a dual-stack socket reports) is the
/// IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// What the per-client limits count by: an IPv4 address as it is, an IPv6 address's /64.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

/// Puts the request's [`ClientIp`] in its extensions, from its peer address (`ConnectInfo`)
/// and the trusted proxies (a plain request map around the router, no middleware future). A
/// request without a peer address (none reach here through `serve`) gets none, and the
/// per-client limits let it through.
pub fn identify<B>(proxies: &TrustedProxies, mut request: Request<B>) -> Request<B> {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    if let Some(peer) = peer {
        let client = proxies.client(peer, request.headers());
        request.extensions_mut().insert(ClientIp(client));
    }
    request
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn forwarded(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn the_header_is_believed_only_from_a_trusted_proxy() {
        let proxies = TrustedProxies::new(&["10.0.0.0/8".parse().unwrap()]);
        let headers = forwarded("203.0.113.9");
        assert_eq!(proxies.client(ip("10.1.2.3"), &headers), ip("203.0.113.9"));
        assert_eq!(
            proxies.client(ip("198.51.100.1"), &headers),
            ip("198.51.100.1"),
            "an untrusted peer's header is ignored"
        );
        assert_eq!(
            TrustedProxies::default().client(ip("10.1.2.3"), &headers),
            ip("10.1.2.3"),
            "no proxies configured: never read"
        );
    }

    #[test]
    fn the_client_is_the_rightmost_address_that_is_not_a_trusted_proxy() {
        let proxies = TrustedProxies::new(&[
            "10.0.0.0/8".parse().unwrap(),
            "192.0.2.1/32".parse().unwrap(),
        ]);
        // The client claims to be 1.1.1.1; the edge proxy 192.0.2.1 saw 203.0.113.9.
        let headers = forwarded("1.1.1.1, 203.0.113.9, 192.0.2.1");
        assert_eq!(proxies.client(ip("10.0.0.5"), &headers), ip("203.0.113.9"));
        // Only proxies in the chain: the left-most of them.
        let headers = forwarded("192.0.2.1");
        assert_eq!(proxies.client(ip("10.0.0.5"), &headers), ip("192.0.2.1"));
        // A hop that is not an address ends the walk at the last good one.
        let headers = forwarded("203.0.113.9, garbage");
        assert_eq!(proxies.client(ip("10.0.0.5"), &headers), ip("10.0.0.5"));
    }

    #[test]
    fn an_ipv6_client_is_its_slash_64_and_a_mapped_ipv4_is_ipv4() {
        assert_eq!(
            client_key(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")),
            ip("2001:db8:1:2::")
        );
        assert_eq!(
            client_key(ip("2001:db8:1:2::1")),
            client_key(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(
            client_key(ip("2001:db8:1:2::1")),
            client_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(client_key(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(client_key(ip("192.0.2.7")), ip("192.0.2.7"));
    }
}
