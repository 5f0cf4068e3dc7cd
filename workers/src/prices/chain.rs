//! The price chain (`prices.providers`): each link is one upstream with its client, asked for
//! the coins no link before it priced, in batches of its own size. A link that answers without
//! a coin passes it on just as one whose request failed; a link that names coins by ticker
//! (Alchemy, Binance) is asked only for coins their ticker names (see [`Wanted::by_ticker`]), so
//! a ticker shared by many coins never prices the wrong one.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use coinbeat_shared::{
    cache::PriceRecord,
    domain::{CoinId, Symbol},
    queue::JobError,
    settings::{
        ALCHEMY_SYMBOLS_PER_CALL, COINCAP_IDS_PER_CALL, CoinCapSettings, PriceSource,
    },
};
use futures::{StreamExt, stream};

use crate::{
    alchemy::Alchemy,
    binance::{Binance, Ticker24h, pair_for},
    boot::WorkerEnv,
    coincap::CoinCapRest,
    coingecko::CoinGecko,
};

/// One coin a job asks for.
#[derive(Debug, Clone)]
pub(super) struct Wanted {
    pub(super) id: CoinId,
    /// The ticker its record shows (`""` for an id the catalogue does not list).
    pub(super) symbol: String,
    /// How the job named it, for the result: the symbol, or the id.
    pub(super) asked: String,
    /// Whether its ticker names it (the catalogue's best-ranked coin of that ticker, or the one
    /// `[prices.coins]` pins): only then may a link that asks by ticker price it.
    pub(super) by_ticker: bool,
}

/// One link of the chain. Cheap to clone.
#[derive(Debug, Clone)]
pub(super) enum Link {
    CoinGecko(CoinGecko),
    Alchemy(Alchemy),
    CoinCap(CoinCapRest, CoinCapSettings),
    Binance(Binance),
}

/// What one link made of the coins it was asked for.
#[derive(Debug)]
pub(super) struct LinkAnswer<'a> {
    pub(super) records: Vec<PriceRecord>,
    /// Coins whose request failed.
    pub(super) failed: Vec<&'a Wanted>,
    /// The first failure.
    pub(super) error: Option<JobError>,
    pub(super) requests: usize,
}

impl Link {
    /// The link of `source` as `env`'s settings configure it; `None` for Binance while
    /// `providers.binance.enabled` is off. Alchemy and CoinCap without their key are an error
    /// naming it.
    pub(super) fn build(source: PriceSource, env: &WorkerEnv) -> anyhow::Result<Option<Self>> {
        let providers = &env.settings.providers;
        Ok(Some(match source {
            PriceSource::CoinGecko => Self::CoinGecko(CoinGecko::new(env)?),
            PriceSource::Alchemy => Self::Alchemy(Alchemy::new(env)?),
            PriceSource::CoinCap => Self::CoinCap(CoinCapRest::new(env)?, providers.coincap.clone()),
            PriceSource::Binance if !providers.binance.enabled => return Ok(None),
            PriceSource::Binance => Self::Binance(Binance::new(env)?),
        }))
    }

    pub(super) fn source(&self) -> PriceSource {
        match self {
            Self::CoinGecko(_) => PriceSource::CoinGecko,
            Self::Alchemy(_) => PriceSource::Alchemy,
            Self::CoinCap(..) => PriceSource::CoinCap,
            Self::Binance(_) => PriceSource::Binance,
        }
    }

    /// Most coins one request names.
    fn batch_size(&self, coins: usize) -> usize {
        match self {
            Self::CoinGecko(client) => client.max_ids_per_request(),
            Self::Alchemy(_) => ALCHEMY_SYMBOLS_PER_CALL as usize,
            Self::CoinCap(..) => COINCAP_IDS_PER_CALL as usize,
            // One `/ticker/24hr` call of every pair: its weight grows in steps, not per pair.
            Self::Binance(_) => coins,
        }
        .max(1)
    }

    /// Asks for `coins` in batches, at most `parallel` requests at once.
    pub(super) async fn ask<'a>(&self, coins: &[&'a Wanted], parallel: usize) -> LinkAnswer<'a> {
        let size = self.batch_size(coins.len());
        // Each batch as the range of `coins` it covers (a range, not a slice: the futures
        // below must not borrow their argument, or they are not `Send` for every lifetime).
        let batches: Vec<std::ops::Range<usize>> = (0..coins.len())
            .step_by(size)
            .map(|start| start..(start + size).min(coins.len()))
            .collect();
        let mut answer = LinkAnswer {
            records: Vec::new(),
            failed: Vec::new(),
            error: None,
            requests: batches.len(),
        };
        let answers: Vec<_> = stream::iter(batches)
            // When we asked, not when the answer arrived: see `PriceRecord::fetched_at`.
            .map(|range| async move {
                let result = self.fetch(&coins[range.clone()], Utc::now()).await;
                (range, result)
            })
            .buffer_unordered(parallel.max(1))
            .collect()
            .await;
        for (range, result) in answers {
            match result {
                Ok(records) => answer.records.extend(records),
                Err(e) => {
                    answer.failed.extend(coins[range].iter().copied());
                    answer.error.get_or_insert(e);
                }
            }
        }
        answer
    }

    /// One request for `batch`, asked at `asked_at`: a record for each coin it priced.
    async fn fetch(
        &self,
        batch: &[&Wanted],
        asked_at: DateTime<Utc>,
    ) -> Result<Vec<PriceRecord>, JobError> {
        let source = self.source().as_str();
        Ok(match self {
            Self::CoinGecko(client) => {
                let ids: Vec<String> = batch.iter().map(|w| w.id.to_string()).collect();
                let prices = client.simple_prices(&ids).await?;
                batch
                    .iter()
                    .filter_map(|coin| {
                        let price = prices.get(coin.id.as_str())?;
                        Some(PriceRecord {
                            change_24h_pct: price.usd_24h_change,
                            market_cap_usd: price.usd_market_cap,
                            volume_24h_usd: price.usd_24h_vol,
                            upstream_updated_at: price.last_updated_at,
                            ..record(coin, price.usd, asked_at, source)
                        })
                    })
                    .collect()
            }
            Self::Alchemy(client) => {
                let symbols: Vec<String> = batch.iter().map(|w| w.symbol.clone()).collect();
                let prices = client.by_symbol(&symbols).await?;
                batch
                    .iter()
                    .filter_map(|coin| {
                        let price = prices
                            .iter()
                            .find(|p| p.symbol.eq_ignore_ascii_case(&coin.symbol))?;
                        Some(PriceRecord {
                            upstream_updated_at: price.last_updated_at,
                            ..record(coin, price.usd, asked_at, source)
                        })
                    })
                    .collect()
            }
            Self::CoinCap(client, settings) => {
// CoinCap's own id where it differs, by ticker: only for a coin its ticker names
                // (another coin of that ticker is asked by its own id).
                let asset_id = |coin: &Wanted| {
                    if coin.by_ticker {
                        settings.asset_id(&coin.symbol, coin.id.as_str()).to_owned()
                    } else {
                        coin.id.to_string()
                    }
                };
                let ids: Vec<String> = batch.iter().map(|w| asset_id(w)).collect();
                let assets = client.assets(&ids).await?;
                batch
                    .iter()
                    .filter_map(|coin| {
                        let id = asset_id(coin);
                        let asset = assets.iter().find(|a| a.id == id)?;
                        Some(PriceRecord {
                            change_24h_pct: asset.change_24h_pct,
                            market_cap_usd: asset.market_cap_usd,
                            volume_24h_usd: asset.volume_24h_usd,
                            upstream_updated_at: asset.as_of,
                            ..record(coin, asset.usd, asked_at, source)
                        })
                    })
                    .collect()
            }
            Self::Binance(client) => {
                let pairs: Vec<(String, &Wanted)> = batch
                    .iter()
                    .filter_map(|w| {
                        let symbol = Symbol::parse(&w.symbol).ok()?;
                        pair_for(&symbol).map(|p| (p, *w))
                    })
                    .collect();
                let wanted: Vec<String> = pairs.iter().map(|(p, _)| p.clone()).collect();
                let tickers = client.tickers_24h(&wanted).await?;
                tickers
                    .into_iter()
                    .filter_map(|ticker| {
                        let (_, coin) = pairs.iter().find(|(p, _)| *p == ticker.pair)?;
                        Some(binance_record(&coin.id, &coin.symbol, ticker, asked_at))
                    })
                    .collect()
            }
        })
    }
}

/// A record of `coin` at `usd` from `source`, asked for at `asked_at`, with no other figure.
fn record(coin: &Wanted, usd: rust_decimal::Decimal, asked_at: DateTime<Utc>, source: &str) -> PriceRecord {
    PriceRecord {
        symbol: coin.symbol.clone(),
        coin_id: coin.id.clone(),
        usd,
        change_24h_pct: None,
        market_cap_usd: None,
        volume_24h_usd: None,
        upstream_updated_at: None,
        fetched_at: asked_at,
        source: source.to_owned(),
    }
}

/// A record of the coin `id` (listed as `symbol`) from its Binance USDT pair's 24 h ticker:
/// the last trade's price, no market cap.
pub(super) fn binance_record(
    id: &CoinId,
    symbol: &str,
    ticker: Ticker24h,
    fetched_at: DateTime<Utc>,
) -> PriceRecord {
    PriceRecord {
        symbol: symbol.to_owned(),
        coin_id: id.clone(),
        usd: ticker.last_price,
        change_24h_pct: ticker.price_change_percent,
        market_cap_usd: None,
        volume_24h_usd: ticker.quote_volume,
        upstream_updated_at: ticker
            .close_time_ms
            .and_then(DateTime::from_timestamp_millis),
        fetched_at,
        source: PriceSource::Binance.as_str().to_owned(),
    }
}

/// Asks every link in turn for the coins still unpriced, at most `parallel` requests at once
/// per link; see the module's doc.
pub(super) async fn run_chain<'a>(
    links: &[Link],
    wanted: &'a [Wanted],
    parallel: usize,
) -> ChainOutcome<'a> {
    let mut outcome = ChainOutcome::default();
    let mut left: Vec<&'a Wanted> = wanted.iter().collect();
    // Coins some link was asked for, and those some link answered for (with a price or not).
    let mut asked: HashSet<&'a CoinId> = HashSet::new();
    let mut answered: HashSet<&'a CoinId> = HashSet::new();
    for link in links {
        if left.is_empty() {
            break;
        }
        let askable: Vec<&'a Wanted> = left
            .iter()
            .copied()
            .filter(|w| !link.source().by_symbol() || (w.by_ticker && !w.symbol.is_empty()))
            .collect();
        if askable.is_empty() {
            continue;
        }
        let answer = link.ask(&askable, parallel).await;
        let failed: HashSet<&CoinId> = answer.failed.iter().map(|w| &w.id).collect();
        let priced: HashSet<&CoinId> = answer.records.iter().map(|r| &r.coin_id).collect();
        for coin in &askable {
            asked.insert(&coin.id);
            if !failed.contains(&coin.id) {
                answered.insert(&coin.id);
            }
        }
        left.retain(|w| !priced.contains(&w.id));
        outcome.links.push(LinkReport {
            source: link.source(),
            asked: askable.len(),
            priced: answer.records.len(),
            requests: answer.requests,
            error: answer.error.as_ref().map(|e| e.reason().to_owned()),
        });
        outcome.requests += answer.requests;
        outcome.records.extend(answer.records);
        outcome.errors.extend(answer.error);
    }
    // Failed: asked, and no link that was asked answered. Missing: the rest of the unpriced.
    (outcome.failed, outcome.missing) = left
        .into_iter()
        .partition(|w| asked.contains(&w.id) && !answered.contains(&w.id));
    outcome
}

/// What the whole chain made of a job's coins.
#[derive(Debug, Default)]
pub(super) struct ChainOutcome<'a> {
    pub(super) records: Vec<PriceRecord>,
    /// Coins some link answered for without a price, or no link could be asked for.
    pub(super) missing: Vec<&'a Wanted>,
    /// Coins every link asked for failed on.
    pub(super) failed: Vec<&'a Wanted>,
    /// Each link's first failure, in the chain's order.
    pub(super) errors: Vec<JobError>,
    pub(super) links: Vec<LinkReport>,
    pub(super) requests: usize,
}

impl ChainOutcome<'_> {
    /// The job's error when coins failed on every link asked: every link's reason, classed by
    /// the most hopeful of them (throttled, for the shortest wait, if any link was; else
    /// transient if any failure may pass; permanent only when every one is), so one link's
    /// refused key does not kill a job another link's passing outage would let through.
    pub(super) fn job_error(&self) -> JobError {
        let reason = self
            .errors
            .iter()
            .map(JobError::reason)
            .collect::<Vec<_>>()
            .join("; ");
        let shortest_wait = self.errors.iter().filter_map(JobError::retry_after).min();
        match shortest_wait {
            Some(wait) => JobError::throttled(reason, wait),
            None if self.errors.iter().all(JobError::is_permanent) && !self.errors.is_empty() => {
                JobError::permanent(reason)
            }
            None if self.errors.is_empty() => JobError::transient("no price provider answered"),
            None => JobError::transient(reason),
        }
    }
}

/// One link's part, for the job's result.
#[derive(Debug, serde::Serialize)]
pub(super) struct LinkReport {
    pub(super) source: PriceSource,
    pub(super) asked: usize,
    pub(super) priced: usize,
    pub(super) requests: usize,
    pub(super) error: Option<String>,
}
