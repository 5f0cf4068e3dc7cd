//! Wallet analysis: which addresses the beat analyses hourly, how long an analysis stays fresh,
//! how much history one job may read, and the thresholds of the simple flags.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ScheduleEntry, ScheduleTable};
use crate::{
    domain::{Address, Chain},
    jobs::Queue,
};

/// Etherscan never serves more than this many records of one list (`page * offset`).
pub const ETHERSCAN_MAX_RECORDS: u32 = 10_000;

/// The wallet analysis's configuration (`[wallets]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct WalletSettings {
    /// Addresses analysed on `watch_cron` (each becomes a schedule entry `wallet-{chain}-{address}`
    /// when settings load; see [`WalletSettings::schedule_entries`]).
    pub watched: Vec<Address>,
    /// The chain of the watched addresses.
    pub chain: Chain,
    /// How often the scheduler re-reads the addresses an operator added in Redis
    /// (`/v1/admin/wallets`), starting or stopping their entries.
    pub watch_refresh_secs: u64,
    /// When watched addresses are analysed: cron with seconds, UTC. Hourly by default.
    pub watch_cron: String,
    /// An analysis older than this is served with `stale: true`.
    pub fresh_secs: u64,
    /// An analysis older than this is gone (Redis expires it).
    pub expire_secs: u64,
    /// Records asked per page of a transaction or token-transfer list (Etherscan's `offset`).
    pub page_size: u32,
    /// Most pages read per list. The effective bound is also capped so that
    /// `page * page_size <= 10,000`, Etherscan's own limit.
    pub max_pages: u32,
    /// Counterparties listed in an analysis, most transactions first.
    pub top_counterparties: usize,
    /// `dormant`: no transaction for this many days.
    pub dormant_after_days: u64,
    /// `new`: the first transaction is at most this many days old.
    pub new_within_days: u64,
    /// `high_outflow`: in the last `outflow_window_days`, the native coin sent out is at least
    /// `high_outflow_pct` percent of (current balance + that outflow), i.e. the wallet was
    /// mostly drained in the window.
    pub outflow_window_days: u64,
    pub high_outflow_pct: u8,
}

impl Default for WalletSettings {
    fn default() -> Self {
        Self {
            watched: Vec::new(),
            chain: Chain::Ethereum,
            watch_refresh_secs: 15,
            watch_cron: "0 0 * * * *".into(),
            fresh_secs: 3_900,
            expire_secs: 7 * 24 * 3_600,
            page_size: 1_000,
            max_pages: 10,
            top_counterparties: 10,
            dormant_after_days: 180,
            new_within_days: 30,
            outflow_window_days: 30,
            high_outflow_pct: 80,
        }
    }
}

impl WalletSettings {
    pub fn fresh_for(&self) -> Duration {
        Duration::from_secs(self.fresh_secs)
    }

    pub fn expire_after(&self) -> Duration {
        Duration::from_secs(self.expire_secs.max(self.fresh_secs).max(1))
    }

    /// The page size actually asked for: 1 to 10,000.
    pub fn effective_page_size(&self) -> u32 {
        self.page_size.clamp(1, ETHERSCAN_MAX_RECORDS)
    }

    /// The pages actually read per list: at least 1, and never past Etherscan's 10,000 records.
    pub fn effective_max_pages(&self) -> u32 {
        let cap = ETHERSCAN_MAX_RECORDS / self.effective_page_size();
        self.max_pages.clamp(1, cap.max(1))
    }

    /// The name of the schedule entry that analyses one watched address.
    pub fn entry_name(chain: Chain, address: &Address) -> String {
        format!("wallet-{chain}-{address}")
    }

    /// One schedule entry per watched address, on `watch_cron`. One entry per address (rather
    /// than one job carrying a list) keeps the `wallet` payload "one wallet": each address is
    /// retried, throttled and recorded on its own, and `GET /v1/schedules` shows each one's
    /// last run.
    pub fn schedule_entries(&self) -> ScheduleTable {
        self.watched
            .iter()
            .map(|address| {
                (
                    Self::entry_name(self.chain, address),
                    self.watch_entry(address),
                )
            })
            .collect()
    }

    /// The schedule entry that analyses `address` on `watch_cron` (also for the addresses an
    /// operator added in Redis, which the scheduler turns into entries while it runs).
    pub fn watch_entry(&self, address: &Address) -> ScheduleEntry {
        ScheduleEntry {
            cron: self.watch_cron.clone(),
            kind: Queue::Wallet,
            args: serde_json::json!({
                "chain": self.chain,
                "address": address,
            }),
            enabled: true,
            tier: None,
        }
    }

    /// Adds the watched addresses' entries to `table`; an entry the table already has under the
    /// same name (written by hand in the settings file) is kept as it is.
    pub fn extend_schedule(&self, table: &mut ScheduleTable) {
        for (name, entry) in self.schedule_entries() {
            table.entry(name).or_insert(entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_bounds_never_pass_etherscans_ten_thousand_records() {
        let mut w = WalletSettings::default();
        assert_eq!(
            (w.effective_page_size(), w.effective_max_pages()),
            (1_000, 10)
        );
        w.max_pages = 50;
        assert_eq!(w.effective_max_pages(), 10);
        w.page_size = 100;
        assert_eq!(w.effective_max_pages(), 50);
        w.page_size = 20_000;
        assert_eq!(
            (w.effective_page_size(), w.effective_max_pages()),
            (10_000, 1)
        );
        w.page_size = 0;
        w.max_pages = 0;
        assert_eq!((w.effective_page_size(), w.effective_max_pages()), (1, 1));
    }

    #[test]
    fn each_watched_address_becomes_an_hourly_entry_unless_one_is_written_by_hand() {
        let a = Address::parse("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed").unwrap();
        let b = Address::parse("0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359").unwrap();
        let w = WalletSettings {
            watched: vec![a.clone(), b.clone()],
            ..WalletSettings::default()
        };
        let name_b = WalletSettings::entry_name(Chain::Ethereum, &b);
        let mut table = ScheduleTable::new();
        let mut by_hand = w.schedule_entries()[&name_b].clone();
        by_hand.enabled = false;
        table.insert(name_b.clone(), by_hand);

        w.extend_schedule(&mut table);

        let name_a = format!("wallet-ethereum-{a}");
        let entry = &table[&name_a];
        assert_eq!(entry.cron, "0 0 * * * *");
        assert_eq!(entry.kind, Queue::Wallet);
        assert_eq!(
            entry.args,
            serde_json::json!({"chain": "ethereum", "address": a.as_str()})
        );
        assert!(!table[&name_b].enabled, "the hand-written entry is kept");
        // The beat checks an entry's args like any submitted job: these pass as they are.
        let settings = crate::Settings::default();
        let checked = crate::submit::check_args(Queue::Wallet, &entry.args, &settings).unwrap();
        assert_eq!(checked, entry.args);
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's closure signature is fixed by figment.
    fn watched_addresses_from_the_environment_are_on_the_loaded_schedule() {
        figment::Jail::expect_with(|jail| {
            jail.set_env(
                "COINBEAT_WALLETS__WATCHED",
                "[0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed]",
            );
            let s = crate::Settings::load(None).expect("loads");
            let name = "wallet-ethereum-0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed";
            assert_eq!(s.schedule[name].cron, "0 0 * * * *");
            assert!(s.schedule.contains_key("prices"), "built-in entries stay");

            jail.set_env(
                "COINBEAT_WALLETS__WATCHED",
                "[0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD]",
            );
            let err = crate::Settings::load(None).expect_err("bad checksum");
            assert!(err.to_string().contains("EIP-55"), "{err}");
            Ok(())
        });
    }
}
