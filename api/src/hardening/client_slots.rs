//! [`ClientSlots`]: how many of something (connections, live streams) each client holds, with a
//! cap per client. A slot is given back when its [`Slot`] is dropped, however the holder ends.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex, PoisonError},
};

use super::client_ip::client_key;

/// Counts per client ([`client_key`]: IPv6 by /64). Cheap to clone.
#[derive(Debug, Clone)]
pub struct ClientSlots {
    held: Arc<Mutex<HashMap<IpAddr, usize>>>,
    max_per_client: usize,
}

/// One slot of one client; dropping it gives the slot back.
#[derive(Debug)]
pub struct Slot {
    slots: ClientSlots,
    client: IpAddr,
}

impl ClientSlots {
    pub fn new(max_per_client: usize) -> Self {
        Self {
            held: Arc::default(),
            max_per_client,
        }
    }

    /// The most one client may hold.
    pub fn max_per_client(&self) -> usize {
        self.max_per_client
    }

    /// A slot for `client`, or `None` when it holds `max_per_client` already.
    pub fn take(&self, client: IpAddr) -> Option<Slot> {
        let client = client_key(client);
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let count = held.entry(client).or_insert(0);
        if *count >= self.max_per_client {
            return None;
        }
        *count += 1;
        Some(Slot {
            slots: self.clone(),
            client,
        })
    }

    /// Slots `client` holds now.
    pub fn held_by(&self, client: IpAddr) -> usize {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.get(&client_key(client)).copied().unwrap_or(0)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self
            .slots
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = held.get_mut(&self.client) {
            *count -= 1;
            // Forgotten at zero, so the table holds only clients with something open.
            if *count == 0 {
                held.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_holds_at_most_its_cap_and_a_dropped_slot_is_given_back() {
        let slots = ClientSlots::new(2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = slots.take(a).expect("first");
        let _second = slots.take(a).expect("second");
        assert!(slots.take(a).is_none(), "a third is over the cap");
        assert!(slots.take(b).is_some(), "another client has its own");
        drop(first);
        assert!(slots.take(a).is_some(), "a slot came back");
    }

    #[test]
    fn addresses_of_one_ipv6_slash_64_share_their_slots() {
        let slots = ClientSlots::new(1);
        let _held = slots.take("2001:db8::1".parse().unwrap()).unwrap();
        assert!(slots.take("2001:db8::2".parse().unwrap()).is_none());
        assert!(slots.take("2001:db8:0:1::1".parse().unwrap()).is_some());
    }

    #[test]
    fn the_table_forgets_a_client_with_nothing_held() {
        let slots = ClientSlots::new(3);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        drop(slots.take(a));
        assert_eq!(slots.held_by(a), 0);
        assert!(slots.held.lock().unwrap().is_empty());
    }
}
