//! Where an alert's webhook may point. An alert makes coinbeat call a URL its creator chose, so
//! without a check it would be a way into coinbeat's own network (server-side request
//! forgery): the metadata service at 169.254.169.254, Redis on loopback, an admin page on a
//! private address. Every address a target's host resolves to is checked against a deny list
//! when the alert is created and again at each delivery, and the delivery connects to the very
//! address that was checked (no second lookup a DNS answer could change in between).
//! `alerts.allow_private_targets` lifts the deny list, for receivers on one's own network.

use std::{
    fmt, io,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs},
    sync::{Arc, LazyLock},
};

use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

/// Longest webhook URL accepted.
pub const MAX_URL_LEN: usize = 2_048;

/// Name lookups of webhook hosts in flight at most, per process. Each is the system resolver
/// (`getaddrinfo`) on a blocking thread, which nothing can cancel: a caller that gives up on a
/// slow name leaves its lookup running until the resolver itself does (up to its own timeouts,
/// 30 s and more). Unbounded, alerts naming hosts under a slow DNS server would fill the
/// process's blocking threads; bounded, they wait for a permit within their caller's timeout.
pub const MAX_LOOKUPS: usize = 32;

static LOOKUPS: LazyLock<Arc<Semaphore>> = LazyLock::new(|| Arc::new(Semaphore::new(MAX_LOOKUPS)));

/// A webhook URL: `http` or `https`, with a host, without credentials or a fragment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WebhookUrl(url::Url);

/// Why a webhook target is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("webhook_url is not a valid URL: {0}")]
    Invalid(String),
    #[error("webhook_url must be http or https, not {0:?}")]
    Scheme(String),
    #[error("webhook_url must not carry a user name or password")]
    Credentials,
    #[error("webhook_url is longer than {MAX_URL_LEN} characters")]
    TooLong,
    #[error("webhook_url's host {host} does not resolve: {reason}")]
    Unresolved { host: String, reason: String },
    /// The host is, or resolves to, an address on the deny list. The message names the range
    /// but not the address a name resolved to: whoever made the alert learns nothing of the
    /// internal network's addresses.
    #[error(
        "webhook_url's host {host} {} a {range} address: webhooks may not point at internal \
         addresses{}",
        if host.parse::<IpAddr>().is_ok() { "is" } else { "resolves to" },
        if always_denied(*address) { "" } else { " unless alerts.allow_private_targets is set" }
    )]
    Denied {
        host: String,
        address: IpAddr,
        range: &'static str,
    },
}

impl WebhookUrl {
    pub fn parse(input: &str) -> Result<Self, TargetError> {
        if input.len() > MAX_URL_LEN {
            return Err(TargetError::TooLong);
        }
        let url = url::Url::parse(input).map_err(|e| TargetError::Invalid(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(TargetError::Scheme(url.scheme().to_owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(TargetError::Credentials);
        }
        if url.host().is_none() {
            return Err(TargetError::Invalid("no host".into()));
        }
        if url.fragment().is_some() {
            return Err(TargetError::Invalid("a fragment is never sent".into()));
        }
        Ok(Self(url))
    }

    pub fn as_url(&self) -> &url::Url {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The host as written (a name, or an address without brackets).
    pub fn host(&self) -> String {
        match self.0.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(host) => host.to_string(),
            None => String::new(),
        }
    }

    fn port(&self) -> u16 {
        self.0.port_or_known_default().unwrap_or(80)
    }

    /// The addresses to connect to: the host's own address, or every address its name
    /// resolves to, each checked against the deny list unless `allow_private`. One denied
    /// address refuses the whole target (a name that resolves to a public and a private
    /// address must not reach the private one on some try).
    pub async fn resolve(&self, allow_private: bool) -> Result<Vec<SocketAddr>, TargetError> {
        let host = self.host();
        let port = self.port();
        let addrs: Vec<SocketAddr> = match self.0.host() {
            Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(ip.into(), port)],
            Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(ip.into(), port)],
            _ => {
                let name = host.clone();
                bounded(&LOOKUPS, move || {
                    (name.as_str(), port)
                        .to_socket_addrs()
                        .map(Iterator::collect)
                })
                .await
                .map_err(|e| TargetError::Unresolved {
                    host: host.clone(),
                    reason: e.to_string(),
                })?
            }
        };
        if addrs.is_empty() {
            return Err(TargetError::Unresolved {
                host,
                reason: "no address".into(),
            });
        }
        for addr in &addrs {
            let range = if always_denied(addr.ip()) {
                Some("cloud metadata")
            } else if allow_private {
                None
            } else {
                denied(addr.ip())
            };
            if let Some(range) = range {
                return Err(TargetError::Denied {
                    host,
                    address: addr.ip(),
                    range,
                });
            }
        }
        Ok(addrs)
    }
}

impl TryFrom<String> for WebhookUrl {
    type Error = TargetError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<WebhookUrl> for String {
    fn from(url: WebhookUrl) -> Self {
        url.0.into()
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The cloud metadata services (AWS, GCP and Azure at 169.254.169.254, AWS's IPv6 one,
/// Alibaba's): refused even when `alerts.allow_private_targets` lets other internal addresses
/// through, since they hand out the machine's credentials.
pub fn always_denied(ip: IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    [
        IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
        IpAddr::V4(Ipv4Addr::new(100, 100, 100, 200)),
        IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)),
    ]
    .contains(&ip)
}

/// The range `ip` is in when it is not a public unicast address; `None`: allowed.
pub fn denied(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(ip) => denied_v4(ip),
        IpAddr::V6(ip) => {
            // An IPv4 address written as IPv6 (`::ffff:127.0.0.1`) is that IPv4 address.
            if let Some(v4) = ip.to_ipv4_mapped() {
                return denied_v4(v4);
            }
            denied_v6(ip)
        }
    }
}

fn denied_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match () {
        _ if ip.is_unspecified() || a == 0 => "unspecified (0.0.0.0/8)",
        _ if ip.is_loopback() => "loopback (127.0.0.0/8)",
        _ if ip.is_private() => "private (RFC 1918)",
        _ if ip.is_link_local() => "link-local (169.254.0.0/16, cloud metadata)",
        _ if a == 100 && (64..128).contains(&b) => "carrier-grade NAT (100.64.0.0/10)",
        _ if a == 192 && b == 0 && c == 0 => "IETF protocol assignments (192.0.0.0/24)",
        _ if ip.is_documentation() => "documentation",
        _ if a == 198 && (b == 18 || b == 19) => "benchmarking (198.18.0.0/15)",
        _ if ip.is_multicast() => "multicast (224.0.0.0/4)",
        _ if ip.is_broadcast() || a >= 240 => "reserved (240.0.0.0/4)",
        _ => return None,
    })
}

fn denied_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    Some(match () {
        _ if ip.is_unspecified() => "unspecified (::)",
        _ if ip.is_loopback() => "loopback (::1)",
        _ if first & 0xfe00 == 0xfc00 => "unique local (fc00::/7)",
        _ if first & 0xffc0 == 0xfe80 => "link-local (fe80::/10)",
        _ if first & 0xffc0 == 0xfec0 => "site-local (fec0::/10)",
        _ if first & 0xff00 == 0xff00 => "multicast (ff00::/8)",
        _ if first == 0x2001 && ip.segments()[1] == 0x0db8 => "documentation (2001:db8::/32)",
        // IPv4-compatible, NAT64 and 6to4 forms can carry an internal IPv4 address.
        _ if ip.segments()[..6] == [0; 6] => "IPv4-compatible (::/96)",
        _ if ip.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0] => "NAT64 (64:ff9b::/96)",
        _ if ip.segments()[..3] == [0x64, 0xff9b, 1] => "local NAT64 (64:ff9b:1::/48)",
        // IPv4-translated (SIIT) addresses carry an IPv4 address too.
        _ if ip.segments()[..4] == [0; 4] && ip.segments()[4] == 0xffff => {
            "IPv4-translated (::ffff:0:0:0/96)"
        }
        _ if first == 0x2002 => "6to4 (2002::/16)",
        _ => return None,
    })
}

/// Runs `work` on a blocking thread once `limit` has a permit, and holds that permit until
/// `work` returns, even when the caller stops waiting for it.
async fn bounded<T: Send + 'static>(
    limit: &Arc<Semaphore>,
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    let permit = Arc::clone(limit)
        .acquire_owned()
        .await
        .expect("the semaphore is never closed");
    tokio::task::spawn_blocking(move || {
        let result = work();
        drop(permit);
        result
    })
    .await
    .map_err(io::Error::other)?
}

#[cfg(test)]
mod tests {
    use std::{
        sync::atomic::{AtomicUsize, Ordering},
        time::Duration,
    };

    use super::*;

    #[tokio::test]
    async fn a_lookup_its_caller_gave_up_on_holds_its_permit_until_it_ends() {
        let limit = Arc::new(Semaphore::new(2));
        let running = Arc::new(AtomicUsize::new(0));
        let slow = |running: Arc<AtomicUsize>| {
            move || {
                running.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(300));
                running.fetch_sub(1, Ordering::SeqCst);
                Ok(())
            }
        };
        // Two callers give up at once; their lookups run on.
        for _ in 0..2 {
            let call = bounded(&limit, slow(running.clone()));
            assert!(
                tokio::time::timeout(Duration::from_millis(50), call)
                    .await
                    .is_err()
            );
        }
        assert_eq!(running.load(Ordering::SeqCst), 2);
        // A third waits for one of them to end, not merely for its caller to leave.
        let seen = running.clone();
        let running_when_started = bounded(&limit, move || Ok(seen.load(Ordering::SeqCst)))
            .await
            .unwrap();
        assert!(running_when_started < 2, "{running_when_started}");
    }

    #[test]
    fn internal_addresses_are_denied_and_public_ones_are_not() {
        for ip in [
            "127.0.0.1",
            "127.255.0.9",
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "64:ff9b::a00:1",
            "64:ff9b:1::1",
            "fec0::1",
            "::ffff:0:7f00:1",
            "::127.0.0.1",
            "2002:7f00:1::",
        ] {
            assert!(denied(ip.parse().unwrap()).is_some(), "{ip} must be denied");
        }
        for ip in ["1.1.1.1", "93.184.216.34", "100.128.0.1", "2606:4700::1111"] {
            assert_eq!(denied(ip.parse().unwrap()), None, "{ip} must be allowed");
        }
    }

    #[test]
    fn urls_are_checked_at_the_edge() {
        assert!(WebhookUrl::parse("https://hooks.example.com/a?b=c").is_ok());
        assert!(matches!(
            WebhookUrl::parse("ftp://example.com/"),
            Err(TargetError::Scheme(_))
        ));
        assert_eq!(
            WebhookUrl::parse("https://u:p@example.com/"),
            Err(TargetError::Credentials)
        );
        assert!(WebhookUrl::parse("not a url").is_err());
        assert!(WebhookUrl::parse(&format!("https://e.com/{}", "a".repeat(3000))).is_err());
    }

    #[tokio::test]
    async fn the_cloud_metadata_services_are_refused_even_when_private_targets_are_allowed() {
        for url in [
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00:ec2::254]/",
            "http://[::ffff:169.254.169.254]/",
            "http://100.100.100.200/",
        ] {
            let refused = WebhookUrl::parse(url).unwrap().resolve(true).await;
            assert!(
                matches!(
                    refused,
                    Err(TargetError::Denied {
                        range: "cloud metadata",
                        ..
                    })
                ),
                "{url}: {refused:?}"
            );
        }
        // Host forms the URL parser reads as an address are checked as that address.
        for url in [
            "http://0x7f.1/",
            "http://0177.0.0.1/",
            "http://[::ffff:7f00:1]/",
        ] {
            let refused = WebhookUrl::parse(url).unwrap().resolve(false).await;
            assert!(
                matches!(refused, Err(TargetError::Denied { .. })),
                "{url}: {refused:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_loopback_target_is_refused_by_default_and_allowed_when_private_targets_are() {
        for url in [
            "http://127.0.0.1:9/hook",
            "http://[::1]:9/hook",
            "http://localhost:9/hook",
            "http://2130706433:9/hook",
        ] {
            let target = WebhookUrl::parse(url).unwrap();
            assert!(
                matches!(target.resolve(false).await, Err(TargetError::Denied { .. })),
                "{url}"
            );
            assert!(target.resolve(true).await.is_ok(), "{url}");
        }
        let said = |url: &str| {
            let url = WebhookUrl::parse(url).unwrap();
            async move { url.resolve(false).await.unwrap_err().to_string() }
        };
        let localhost = said("http://localhost:9/").await;
        assert!(
            localhost.starts_with("webhook_url's host localhost resolves to a loopback"),
            "{localhost}"
        );
        assert!(
            !localhost.contains("127.0.0.1") && !localhost.contains("::1"),
            "{localhost}"
        );
        assert!(
            said("http://127.0.0.1:9/")
                .await
                .starts_with("webhook_url's host 127.0.0.1 is a loopback (127.0.0.0/8) address")
        );
    }
}
