//! How often the API's cache reads found a record: hits and misses per kind, counted in this
//! process (a counter in Redis would add a write to every read, including the price reads the
//! in-process copy serves without Redis). Shown by `GET /v1/admin/cache/stats`; each API
//! replica counts its own reads since it started.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// What was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Prices,
    Markets,
    Wallets,
    Health,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Prices, Kind::Markets, Kind::Wallets, Kind::Health];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Prices => "prices",
            Kind::Markets => "markets",
            Kind::Wallets => "wallets",
            Kind::Health => "health",
        }
    }
}

/// Hits and misses per [`Kind`].
#[derive(Debug, Default)]
pub struct CacheReads {
    counts: [[AtomicU64; 2]; 4],
}

/// One kind's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub hits: u64,
    pub misses: u64,
}

impl CacheReads {
    /// Counts one read of `kind`: a hit when a record was found.
    pub fn count(&self, kind: Kind, hit: bool) {
        self.counts[kind as usize][usize::from(!hit)].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts `hits` hits and `misses` misses at once (a list read).
    pub fn count_many(&self, kind: Kind, hits: u64, misses: u64) {
        self.counts[kind as usize][0].fetch_add(hits, Ordering::Relaxed);
        self.counts[kind as usize][1].fetch_add(misses, Ordering::Relaxed);
    }

    pub fn get(&self, kind: Kind) -> Counts {
        let [hits, misses] = &self.counts[kind as usize];
        Counts {
            hits: hits.load(Ordering::Relaxed),
            misses: misses.load(Ordering::Relaxed),
        }
    }
}
