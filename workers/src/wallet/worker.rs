//! `WalletWorker`: reads one wallet from Etherscan within the page bound, analyses it and
//! writes the analysis to the cache (newest wins).
//!
//! Without an Etherscan key the worker still starts, and every job fails at once, before any
//! request, as a permanent error naming `ETHERSCAN_API_KEY`: a key cannot appear by retrying.

use std::future::Future;

use chrono::Utc;
use coinbeat_shared::{
    cache::{PriceCache, WalletCache},
    domain::CoinId,
    jobs::WalletJob,
    queue::{JobError, JobResult},
    settings::WalletSettings,
};
use serde_json::json;

use super::{Inputs, analyse};
use crate::{
    boot::WorkerEnv,
    etherscan::{Etherscan, EtherscanError, Page},
};

/// The `source` of wallet analyses.
pub const SOURCE: &str = "etherscan";

/// Handles `wallet` jobs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct WalletWorker {
    /// `None` when no key is configured.
    etherscan: Option<Etherscan>,
    cache: WalletCache,
    prices: PriceCache,
    settings: WalletSettings,
}

/// One list read page by page.
struct Listing<T> {
    rows: Vec<T>,
    /// False when the last page read was full and the bound stopped the reading.
    complete: bool,
    requests: u32,
}

impl WalletWorker {
    pub fn new(env: &WorkerEnv) -> anyhow::Result<Self> {
        let settings = &env.settings;
        let etherscan = match Etherscan::new(env) {
            Ok(client) => Some(client),
            Err(EtherscanError::MissingKey) => {
                tracing::warn!(
                    "no Etherscan API key (ETHERSCAN_API_KEY): every wallet job will fail"
                );
                None
            }
            Err(other) => return Err(other.into()),
        };
        Ok(Self {
            etherscan,
            cache: WalletCache::new(env.conn.clone(), env.keys.clone(), &settings.wallets),
            prices: PriceCache::new(env.conn.clone(), env.keys.clone(), &settings.prices),
            settings: settings.wallets.clone(),
        })
    }

    /// Runs one job; the result summarises the analysis and whether it was written.
    pub async fn handle(&self, job: WalletJob) -> JobResult {
        let etherscan = self
            .etherscan
            .as_ref()
            .ok_or_else(|| JobError::from(EtherscanError::MissingKey))?;
        let (chain, address) = (job.chain, &job.address);

        // When we asked (see `PriceRecord::fetched_at`): the balance comes first.
        let fetched_at = Utc::now();
        let balance = etherscan.balance(chain, address).await?;
        let txs = self
            .read_pages(|page| etherscan.txlist(chain, address, page))
            .await?;
        let transfers = self
            .read_pages(|page| etherscan.tokentx(chain, address, page))
            .await?;

        let native = CoinId::parse(chain.native_coin()).expect("built-in coin ids parse");
        let native_price = self
            .prices
            .get(&native)
            .await
            .map_err(|e| JobError::transient(format!("reading the {native} price: {e}")))?;

        let analysis = analyse(Inputs {
            chain,
            address,
            balance_wei: &balance,
            txs: &txs.rows,
            transfers: &transfers.rows,
            complete: txs.complete && transfers.complete,
            upstream_requests: 1 + txs.requests + transfers.requests,
            native_price: native_price.as_ref(),
            fetched_at,
            settings: &self.settings,
        });
        let written = self
            .cache
            .write(&analysis)
            .await
            .map_err(|e| JobError::transient(format!("writing the analysis: {e}")))?;
        if !analysis.complete {
            tracing::info!(%address, "history longer than the page bound; analysed the newest part");
        }
        Ok(Some(json!({
            "chain": chain,
            "address": address,
            "written": written,
            "balance": analysis.balance,
            "balance_usd": analysis.balance_usd,
            "transaction_count": analysis.transaction_count,
            "token_transfer_count": analysis.token_transfer_count,
            "tokens": analysis.tokens.len(),
            "complete": analysis.complete,
            "upstream_requests": analysis.upstream_requests,
            "source": SOURCE,
        })))
    }

    /// Reads pages 1, 2, ... until a page is short (the end) or the bound is reached:
    /// `wallets.max_pages` pages of `wallets.page_size`, never past Etherscan's 10,000 records.
    async fn read_pages<T, F, Fut>(&self, mut fetch: F) -> Result<Listing<T>, EtherscanError>
    where
        F: FnMut(Page) -> Fut,
        Fut: Future<Output = Result<Vec<T>, EtherscanError>>,
    {
        let size = self.settings.effective_page_size();
        let max_pages = self.settings.effective_max_pages();
        let mut listing = Listing {
            rows: Vec::new(),
            complete: false,
            requests: 0,
        };
        for number in 1..=max_pages {
            let rows = fetch(Page { number, size }).await?;
            listing.requests += 1;
            let short = rows.len() < size as usize;
            listing.rows.extend(rows);
            if short {
                listing.complete = true;
                break;
            }
        }
        Ok(listing)
    }

    /// The cache this worker writes (for tests and tools).
    pub fn cache(&self) -> &WalletCache {
        &self.cache
    }

    /// Whether a key is configured.
    pub fn has_key(&self) -> bool {
        self.etherscan.is_some()
    }
}

impl crate::worker::Worker for WalletWorker {
    type Job = WalletJob;
    const NAME: &'static str = "wallet-worker";
    const ABOUT: &'static str = "Runs the `wallet` queue: wallet analyses from Etherscan.";
    const PROVIDERS: &'static [coinbeat_shared::ratelimit::Provider] =
        &[coinbeat_shared::ratelimit::Provider::Etherscan];

    async fn build(env: &WorkerEnv) -> anyhow::Result<Self> {
        Self::new(env)
    }

    async fn run(&self, job: WalletJob, _ctx: coinbeat_shared::queue::JobContext) -> JobResult {
        self.handle(job).await
    }
}
