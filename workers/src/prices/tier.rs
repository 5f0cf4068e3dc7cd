//! A price tier's run (`{"tier": "major"}`): the catalogue's coins of the tier's ranks when the
//! job runs, the tracked coins left out (they are a tier of their own: the `prices` entry from
//! CoinGecko, and the live stream), priced from the tier's source (`[prices.tiers]`).
//!
//! - `binance`: one `/ticker/24hr` of every pair. A USDT pair prices the coin its ticker names
//!   (`Catalogue::name_symbol`, the rule the API and the stream share), when that coin is in
//!   the tier; the tier's coins left over are asked of CoinLore.
//! - `coinlore`: the `/tickers/` pages covering the tier's ranks (an open tier reads to the end
//!   of the list), then the coins still missing (CoinLore's ranks drift from the catalogue's
//!   between refreshes) by CoinLore id (`/ticker/?id=`, 50 a call), learned from the pages
//!   read before; only coins whose id no page told yet (a cold process) make it read the pages
//!   next to the tier's, up to a tenth more on each side. Rows match coins by id (CoinLore's
//!   `nameid` follows CoinGecko's slugs). Each page's records are written as it arrives, dated
//!   when its request went out.
//! - `coingecko`: `/simple/price` in batches, as a job naming ids.
//!
//! Every record says which source priced it; the result counts the calls made and the coins
//! no source priced.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    time::Duration,
};

use chrono::{DateTime, Utc};
use coinbeat_shared::{
    cache::{MarketRow, PriceRecord},
    catalogue::{Catalogue, CatalogueCoin},
    domain::{CoinId, Symbol},
    queue::{JobError, JobResult, stoppable},
    settings::{TierSettings, TierSource, tiers::COINLORE_PAGE},
};
use serde_json::json;

use super::{
    PriceWorker,
    chain::{Link, Wanted, binance_record},
};
use crate::coinlore::{CoinLoreError, MAX_IDS_PER_TICKER, Tickers};

/// The `source` of records priced from CoinLore's pages.
pub const COINLORE_SOURCE: &str = "coinlore";

/// The last CoinLore page an open tier reads (50,000 coins), whatever the upstream says.
const MAX_PAGE: u32 = 500;

/// How long a tier's run waits for the first catalogue.
const CATALOGUE_WAIT: Duration = Duration::from_secs(300);
/// How often it looks meanwhile.
const CATALOGUE_POLL: Duration = Duration::from_secs(2);

/// How many of the coins no source priced a result names.
const MISSING_NAMED: usize = 20;

/// What a run wrote so far.
#[derive(Debug, Default)]
struct Tally {
    written: u64,
    skipped: u64,
    /// Ids of the coins priced.
    priced: HashSet<String>,
    by_source: BTreeMap<String, u64>,
}

/// Calls a run made, per provider.
#[derive(Debug, Default)]
struct Calls {
    binance: u32,
    coinlore: u32,
    coingecko: u32,
}

impl PriceWorker {
    /// Runs one tier's refresh.
    pub(super) async fn refresh_tier(&self, name: &str) -> JobResult {
        let Some(tier) = self.prices.tiers.get(name).filter(|t| t.enabled) else {
            return Err(JobError::permanent(format!(
                "no tier is named {name:?} in [prices.tiers]"
            )));
        };
        let catalogue = self.catalogue_when_listed().await?;
        // The tracked coins are a tier of their own (the `prices` entry, from CoinGecko, and the
        // live stream): a tier's source would replace their richer records.
        let tracked = coinbeat_shared::tracked_symbols::load(&self.conn, &self.keys, &self.prices)
            .await
            .map_err(|e| JobError::transient(format!("reading the tracked set: {e}")))?;
        let tracked: HashSet<CoinId> = tracked
            .iter()
            .filter_map(|symbol| Some(catalogue.name_symbol(&self.prices, symbol)?.id))
            .collect();
        let members: HashMap<&str, &CatalogueCoin> = catalogue
            .index
            .ranked()
            .iter()
            .filter(|coin| tier.holds(coin.rank) && !tracked.contains(&coin.id))
            .map(|coin| (coin.id.as_str(), coin))
            .collect();
        if members.is_empty() {
            return Ok(Some(json!({
                "tier": name,
                "members": 0,
                "written": 0,
                "note": "no catalogued coin has the tier's ranks (the catalogue is refreshed at \
                         first start and daily)",
            })));
        }
        let mut calls = Calls::default();
        let mut tally = Tally::default();
        let mut failures: Vec<String> = Vec::new();
        match tier.source {
            TierSource::Binance => match self.binance_pass(&catalogue, &members).await {
                Ok(priced) => {
                    calls.binance = 1;
                    self.record(priced, &mut tally).await?;
                }
                Err(e) => failures.push(format!("binance: {e}")),
            },
            TierSource::Coingecko => {
                let wanted: Vec<Wanted> = members
                    .values()
                    .map(|coin| Wanted {
                        id: coin.id.clone(),
                        symbol: coin.symbol.clone(),
                        asked: coin.id.to_string(),
                        by_ticker: false,
                    })
                    .collect();
                let asked: Vec<&Wanted> = wanted.iter().collect();
                let answer = Link::CoinGecko(self.coingecko.clone())
                    .ask(&asked, self.parallel_requests)
                    .await;
                calls.coingecko = answer.requests as u32;
                if let Some(e) = answer.error {
                    failures.push(format!("coingecko: {}", e.reason()));
                }
                self.record(answer.records, &mut tally).await?;
            }
            TierSource::Coinlore => {}
        }
        // CoinLore: the whole tier, or what the source before it left.
        let mut left: HashMap<&str, &CatalogueCoin> = members
            .iter()
            .filter(|(id, _)| !tally.priced.contains(**id))
            .map(|(id, coin)| (*id, *coin))
            .collect();
        if !left.is_empty() && tier.source != TierSource::Coingecko {
            let listed = catalogue.index.len() as u32;
            if let Some(e) = self
                .coinlore_pass(tier, listed, &mut left, &mut calls, &mut tally)
                .await?
            {
                failures.push(format!("coinlore: {e}"));
            }
        }
        if tally.priced.is_empty() && !failures.is_empty() {
            return Err(JobError::transient(failures.join("; ")));
        }
        let mut missing: Vec<&str> = members
            .keys()
            .filter(|id| !tally.priced.contains(**id))
            .copied()
            .collect();
        missing.sort_unstable_by_key(|id| members[id].rank_order());
        Ok(Some(json!({
            "tier": name,
            "ranks": tier.ranks(),
            "source": tier.source.as_str(),
            "members": members.len(),
            "written": tally.written,
            "skipped_not_newer": tally.skipped,
            "by_source": tally.by_source,
            "missing": missing.len(),
            "missing_first": &missing[..missing.len().min(MISSING_NAMED)],
            "upstream_requests": {
                "binance": calls.binance,
                "coinlore": calls.coinlore,
                "coingecko": calls.coingecko,
            },
            "failures": failures,
        })))
    }

    /// Writes `records` (newest wins) and counts them.
    async fn record(&self, records: Vec<PriceRecord>, tally: &mut Tally) -> Result<(), JobError> {
        if records.is_empty() {
            return Ok(());
        }
        let outcome = self.write(&records).await?;
        tally.written += outcome.written as u64;
        tally.skipped += outcome.skipped as u64;
        for record in records {
            *tally.by_source.entry(record.source).or_default() += 1;
            tally.priced.insert(record.coin_id.to_string());
        }
        Ok(())
    }

    /// The catalogue, waiting up to [`CATALOGUE_WAIT`] while it is still empty: at first start
    /// every tier's entry runs at once (catch-up) while the first catalogue refresh is still
    /// reading its pages, and a tier that found nothing would wait for its next tick (an hour
    /// for the last one).
    async fn catalogue_when_listed(&self) -> Result<Catalogue, JobError> {
        let started = tokio::time::Instant::now();
        loop {
            let catalogue = self
                .catalogue
                .get()
                .await
                .map_err(|e| JobError::transient(format!("reading the coin catalogue: {e}")))?;
            if !catalogue.index.is_empty() || started.elapsed() >= CATALOGUE_WAIT {
                return Ok(catalogue);
            }
            stoppable::sleep(CATALOGUE_POLL).await;
        }
    }

    /// The members Binance's USDT pairs price.
    async fn binance_pass(
        &self,
        catalogue: &Catalogue,
        members: &HashMap<&str, &CatalogueCoin>,
    ) -> Result<Vec<PriceRecord>, String> {
        let Some(binance) = &self.binance else {
            return Err("providers.binance is disabled".into());
        };
        let (tickers, fetched_at) = binance.all_tickers_24h().await.map_err(|e| e.to_string())?;
        let mut records = Vec::new();
        for ticker in tickers {
            let Some(base) = ticker.pair.strip_suffix("USDT") else {
                continue;
            };
            let Ok(symbol) = Symbol::parse(base) else {
                continue;
            };
            let Some(named) = catalogue.name_symbol(&self.prices, &symbol) else {
                continue;
            };
            let Some(coin) = members.get(named.id.as_str()) else {
                continue;
            };
            records.push(binance_record(
                &coin.id,
                &coin.symbol,
                ticker,
                fetched_at,
            ));
        }
        Ok(records)
    }

    /// Prices the coins of `left` from CoinLore (each priced one is taken out of it and written
    /// at once, a page at a time), in the fewest calls it knows how to:
    ///
    /// 1. the pages covering the tier's ranks (an open tier reads on to the end of the list:
    ///    coins the catalogue lists unranked sit anywhere past the ranked ones);
    /// 2. the coins still missing whose CoinLore rank drifted from the catalogue's since its
    ///    refresh, by CoinLore id, 50 a call, where a page read before (by any tier in this
    ///    process) told their id;
    /// 3. only for missing coins whose id no page told yet (a cold process) ranked near one of
    ///    the tier's edges: the pages next to the tier's on that side, nearest first, up to a
    ///    tenth more, while such coins are left;
    /// 4. by id again, the ones whose id the pages read meanwhile told.
    ///
    /// A coin CoinLore no longer lists is asked by id at most twice and never makes a page read.
    /// `Ok(Some(_))`: CoinLore failed part way (what was read is written).
    async fn coinlore_pass(
        &self,
        tier: &TierSettings,
        listed: u32,
        left: &mut HashMap<&str, &CatalogueCoin>,
        calls: &mut Calls,
        tally: &mut Tally,
    ) -> Result<Option<CoinLoreError>, JobError> {
        self.coinlore_ids
            .load()
            .await
            .map_err(|e| JobError::transient(format!("reading CoinLore's ids: {e}")))?;
        let core = tier.coinlore_pages(listed);
        let margin = (core.len() as u32).div_ceil(10).max(1);
        let mut pages: Vec<u32> = core.clone().collect();
        if tier.to.is_none() {
            pages.extend(core.end..MAX_PAGE);
        }
        let mut past_the_end = u32::MAX;
        if let Some(e) = self
            .read_pages(pages, |_, _| true, &mut past_the_end, left, calls, tally)
            .await?
        {
            return Ok(Some(e));
        }
        let mut asked: HashSet<String> = HashSet::new();
        if let Some(e) = self.coinlore_by_id(left, &mut asked, calls, tally).await? {
            return Ok(Some(e));
        }
        let mut near: Vec<u32> = Vec::new();
        for k in 1..=margin {
            if tier.to.is_some() {
                near.push(core.end - 1 + k);
            }
            if let Some(before) = core.start.checked_sub(k) {
                near.push(before);
            }
        }
        // A page next to the tier's is worth reading while a coin no page told the id of was
        // ranked (by the catalogue) within a margin of that side: it may have crossed the
        // tier's edge since. A coin ranked deeper in, or unranked, that the tier's own pages
        // missed is not on them either (CoinLore does not list it, or it moved during the pass
        // onto a page already read; the tier's next run asks it by id).
        let near_edge = |left: &HashMap<&str, &CatalogueCoin>, page: u32| {
            let known: HashSet<&str> = self
                .coinlore_ids
                .of(left.keys().copied())
                .into_iter()
                .map(|(coin, _)| coin)
                .collect();
            left.iter()
                .filter(|(id, _)| !known.contains(**id))
                .filter_map(|(_, coin)| Some(coin.rank?.saturating_sub(1) / COINLORE_PAGE))
                .any(|on| {
                    if page < core.start {
                        on < core.start + margin
                    } else {
                        on + margin >= core.end
                    }
                })
        };
        if let Some(e) = self
            .read_pages(near, near_edge, &mut past_the_end, left, calls, tally)
            .await?
        {
            return Ok(Some(e));
        }
        self.coinlore_by_id(left, &mut asked, calls, tally).await
    }

    /// Reads those of CoinLore's `pages` that `worth(left, page)` says are, in order, while
    /// coins are left; a short page marks the end of the list (`past_the_end`), and no page
    /// past it is read.
    async fn read_pages(
        &self,
        pages: Vec<u32>,
        worth: impl Fn(&HashMap<&str, &CatalogueCoin>, u32) -> bool,
        past_the_end: &mut u32,
        left: &mut HashMap<&str, &CatalogueCoin>,
        calls: &mut Calls,
        tally: &mut Tally,
    ) -> Result<Option<CoinLoreError>, JobError> {
        for page in pages {
            if left.is_empty() {
                break;
            }
            if page >= *past_the_end || !worth(left, page) {
                continue;
            }
            let tickers = match self
                .coinlore
                .tickers(page * COINLORE_PAGE, COINLORE_PAGE)
                .await
            {
                Ok(tickers) => tickers,
                Err(e) => return Ok(Some(e)),
            };
            calls.coinlore += 1;
            if (tickers.rows.len() as u32) < COINLORE_PAGE {
                *past_the_end = page + 1;
            }
            self.priced_from(tickers, left, tally).await?;
        }
        Ok(None)
    }

    /// Asks CoinLore by id for the coins of `left` whose id a page told and that were not
    /// `asked` before in this run.
    async fn coinlore_by_id(
        &self,
        left: &mut HashMap<&str, &CatalogueCoin>,
        asked: &mut HashSet<String>,
        calls: &mut Calls,
        tally: &mut Tally,
    ) -> Result<Option<CoinLoreError>, JobError> {
        let known: Vec<String> = self
            .coinlore_ids
            .of(left.keys().copied())
            .into_iter()
            .map(|(_, id)| id)
            .filter(|id| asked.insert(id.clone()))
            .collect();
        for chunk in known.chunks(MAX_IDS_PER_TICKER) {
            let tickers = match self.coinlore.ticker(chunk).await {
                Ok(tickers) => tickers,
                Err(e) => return Ok(Some(e)),
            };
            calls.coinlore += 1;
            self.priced_from(tickers, left, tally).await?;
        }
        Ok(None)
    }

    /// Writes the records of the coins of `left` that `tickers` holds (taking them out of it),
    /// and learns every row's CoinLore id.
    async fn priced_from(
        &self,
        tickers: Tickers,
        left: &mut HashMap<&str, &CatalogueCoin>,
        tally: &mut Tally,
    ) -> Result<(), JobError> {
        let pairs = tickers.rows.iter().zip(&tickers.ids);
        self.coinlore_ids
            .learn(pairs.map(|(row, id)| (row.coin_id.as_str(), id.as_str())))
            .await
            .map_err(|e| JobError::transient(format!("storing CoinLore's ids: {e}")))?;
        let fetched_at = tickers.sent_at;
        let records: Vec<PriceRecord> = tickers
            .rows
            .into_iter()
            .filter_map(|row| {
                let coin = left.remove(row.coin_id.as_str())?;
                coinlore_record(coin, row, fetched_at)
            })
            .collect();
        self.record(records, tally).await
    }
}

/// A record of `coin` from CoinLore's row; `None` without a price.
fn coinlore_record(
    coin: &CatalogueCoin,
    row: MarketRow,
    fetched_at: DateTime<Utc>,
) -> Option<PriceRecord> {
    Some(PriceRecord {
        symbol: coin.symbol.clone(),
        coin_id: CoinId::clone(&coin.id),
        usd: row.price_usd?,
        change_24h_pct: row.change_24h_pct,
        market_cap_usd: row.market_cap_usd,
        volume_24h_usd: row.volume_24h_usd,
        upstream_updated_at: row.upstream_updated_at,
        fetched_at,
        source: COINLORE_SOURCE.to_owned(),
    })
}
