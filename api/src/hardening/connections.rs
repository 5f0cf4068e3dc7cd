//! What one API process lets a connection hold: a place among `api.max_connections`, a place
//! among its client's `api.max_connections_per_client` (a trusted proxy, which carries many
//! clients, is not capped per client), and `api.header_timeout_ms` to finish each request's
//! headers. The server ([`crate::server`]) asks [`ConnectionLimits::admit`] at accept and closes
//! a connection that is refused at once, before reading a byte of it.

use std::{net::IpAddr, sync::Arc, time::Duration};

use coinbeat_shared::settings::ApiSettings;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{
    client_ip::TrustedProxies,
    client_slots::{ClientSlots, Slot},
};

/// The limits of one API process. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    total: Arc<Semaphore>,
    per_client: ClientSlots,
    proxies: TrustedProxies,
    header_timeout: Duration,
}

/// What an open connection holds; dropping it (the connection closed) gives its places back.
#[derive(Debug)]
pub struct Admitted {
    _total: OwnedSemaphorePermit,
    _client: Option<Slot>,
}

/// Why a connection was closed at accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// `api.max_connections` are open.
    Process,
    /// Its client holds `api.max_connections_per_client`.
    Client,
}

impl ConnectionLimits {
    pub fn new(api: &ApiSettings, proxies: TrustedProxies) -> Self {
        Self {
            total: Arc::new(Semaphore::new(api.max_connections)),
            per_client: ClientSlots::new(api.max_connections_per_client),
            proxies,
            header_timeout: Duration::from_millis(api.header_timeout_ms),
        }
    }

    /// Places for a new connection from `peer`, or why there are none.
    pub fn admit(&self, peer: IpAddr) -> Result<Admitted, Refused> {
        let client = if self.proxies.trusts(peer) {
            None
        } else {
            Some(self.per_client.take(peer).ok_or(Refused::Client)?)
        };
        let total = Arc::clone(&self.total)
            .try_acquire_owned()
            .map_err(|_| Refused::Process)?;
        Ok(Admitted {
            _total: total,
            _client: client,
        })
    }

    /// How long a connection may take to send a request's headers once it is ready for them
    /// (which also bounds an idle keep-alive connection).
    pub fn header_timeout(&self) -> Duration {
        self.header_timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(total: usize, per_client: usize, proxies: &[&str]) -> ConnectionLimits {
        let api = ApiSettings {
            max_connections: total,
            max_connections_per_client: per_client,
            ..ApiSettings::default()
        };
        let nets: Vec<_> = proxies.iter().map(|p| p.parse().unwrap()).collect();
        ConnectionLimits::new(&api, TrustedProxies::new(&nets))
    }

    #[test]
    fn a_client_past_its_cap_is_refused_and_others_still_get_in_until_the_process_is_full() {
        let limits = limits(3, 2, &[]);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let held = [limits.admit(a).unwrap(), limits.admit(a).unwrap()];
        assert_eq!(limits.admit(a).unwrap_err(), Refused::Client);
        let third = limits.admit(b).unwrap();
        assert_eq!(limits.admit(b).unwrap_err(), Refused::Process);
        drop(third);
        assert!(
            limits.admit(b).is_ok(),
            "a closed connection gives its place back"
        );
        drop(held);
    }

    #[test]
    fn a_trusted_proxy_is_not_capped_per_client() {
        let limits = limits(10, 1, &["10.0.0.0/8"]);
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let held: Vec<_> = (0..5).map(|_| limits.admit(proxy).unwrap()).collect();
        assert_eq!(held.len(), 5);
    }
}
