//! [`PriceFeed`]: what one live price stream sends, whatever carries it (SSE or WebSocket).
//!
//! A feed starts with the snapshot (the current record of each coin of the filter, or of the
//! tracked set without one), then follows the fan-out ([`crate::price_events`]). It never sends
//! a record of a coin that is not newer than one it already sent for that coin, so the
//! snapshot and an update that raced it are not sent twice, and each coin's records arrive in
//! their order (`PriceRecord::order`: as of, then fetched at). A client that fell behind the fan-out's buffer gets
//! [`FeedItem::Lagged`] with how many events it missed, then the newest ones. When the server
//! shuts down the feed yields [`FeedItem::Closing`] once and then ends.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::Arc,
};

use chrono::{DateTime, Utc};
use coinbeat_shared::{cache::PriceRecord, domain::CoinId};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use crate::{
    ApiError, AppState,
    hardening::client_ip::ClientIp,
    price_events::{PriceEvent, Subscription},
    price_json::Priced,
    routes::prices,
    vs_currency::{Conversion, with_vs},
};

/// The query both stream routes take.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct StreamQuery {
    /// Comma-separated symbols (each names the coin `GET /v1/prices/{coin}` would);
    /// absent (and no `ids`) means every coin. With `ids`: the coins of both lists.
    #[param(schema_with = prices::symbol_list_schema)]
    pub symbols: Option<String>,
    /// Comma-separated coin ids, instead of symbols.
    #[param(schema_with = prices::coin_id_list_schema)]
    pub ids: Option<String>,
    /// A currency to show each price in besides USD (`eur`, any case): one of
    /// `rates.currencies`, or `usd`. The rate is read again as the stream goes on.
    #[param(value_type = Option<String>, pattern = "^[A-Za-z]{3}$")]
    pub vs: Option<String>,
}

/// One thing to send to the client.
#[derive(Debug)]
pub enum FeedItem {
    Price(Arc<PriceEvent>),
    /// The client fell behind and this many events were skipped.
    Lagged(u64),
    /// The server is shutting down; nothing follows.
    Closing,
}

/// One client's feed.
#[derive(Debug)]
pub struct PriceFeed {
    subscription: Subscription,
    /// `None`: every coin.
    filter: Option<HashSet<CoinId>>,
    snapshot: VecDeque<Arc<Priced>>,
    /// The order (`PriceRecord::order`) of the newest record sent per coin.
    sent: HashMap<CoinId, (DateTime<Utc>, DateTime<Utc>)>,
    closed: bool,
    /// With `?vs=`: the currency asked for and the conversion as last read.
    vs: Option<(String, Conversion)>,
    state: AppState,
}

impl PriceFeed {
    /// Validates the filter (422 `invalid_symbol` before anything is streamed), takes a client
    /// permit (429 when full), subscribes, and only then reads the snapshot, so no update falls
    /// between the two. A snapshot that cannot be read (Redis down and the copy not current) is
    /// left out; the updates still flow.
    /// The feed `client` asked for with `query` (the client's address counts against its
    /// stream cap; `None` only where no peer address is known).
    pub async fn open(
        state: &AppState,
        query: &StreamQuery,
        client: Option<ClientIp>,
    ) -> Result<Self, ApiError> {
        // A currency that cannot be shown is refused before anything is streamed.
        let vs = match query.vs.as_deref() {
            Some(vs) => Conversion::of(state, Some(vs))
                .await?
                .map(|conversion| (vs.to_owned(), conversion)),
            None => None,
        };
        // Both lists: the coins of either (each list is checked first, so a bad one is 422).
        let ids = query.ids.as_deref().map(prices::parse_ids).transpose()?;
        let asked: Option<Vec<CoinId>> = match (&query.symbols, ids) {
            (Some(list), ids) => {
                let symbols = prices::parse_list(list)?;
                let named = prices::named_symbols(state, &symbols).await?;
                // A symbol no coin has matches nothing (it may be catalogued later).
                let mut coins: Vec<CoinId> =
                    named.into_iter().flatten().map(|named| named.id).collect();
                coins.extend(ids.into_iter().flatten());
                Some(coins)
            }
            (None, ids) => ids,
        };
        let subscription = state
            .price_events()
            .subscribe(client.map(|ClientIp(ip)| ip))?;
        let snapshot_coins = match &asked {
            Some(coins) => coins.clone(),
            None => {
                let tracked = &state.settings().prices.tracked;
                prices::named_symbols(state, tracked)
                    .await
                    .unwrap_or_default()
                    .into_iter()
                    .flatten()
                    .map(|named| named.id)
                    .collect()
            }
        };
        let snapshot = match prices::records(state, &snapshot_coins).await {
            Ok(found) => found.records.into_iter().flatten().collect(),
            Err(e) => {
                tracing::debug!(error = %e, "stream opened without a snapshot");
                VecDeque::new()
            }
        };
        Ok(Self {
            subscription,
            filter: asked.map(|coins| coins.into_iter().collect()),
            snapshot,
            sent: HashMap::new(),
            closed: false,
            vs,
            state: state.clone(),
        })
    }

    /// `event`'s JSON as this feed sends it: shared by every stream without `?vs=`, rendered
    /// for this one with its `vs` field otherwise.
    pub fn render(&self, event: &PriceEvent) -> Arc<str> {
        let Some((_, conversion)) = &self.vs else {
            return event.json(&self.state);
        };
        let now = Utc::now();
        let extra = with_vs(Vec::new(), Some(conversion), &event.record, now);
        let mut json = Vec::new();
        let fresh_for = self.state.settings().prices.fresh_for();
        event.record.write(&mut json, now, fresh_for, false, &extra);
        String::from_utf8(json)
            .expect("price views render as UTF-8")
            .into()
    }

    /// Reads the exchange rate again (at most once a second per process, see
    /// `AppState::rates`); while it cannot be read, the last one goes on being used.
    async fn refresh_rate(&mut self) {
        let Some((vs, conversion)) = &mut self.vs else {
            return;
        };
        if let Ok(Some(fresh)) = Conversion::of(&self.state, Some(vs)).await {
            *conversion = fresh;
        }
    }

    /// How often the carrier sends a keep-alive on a quiet stream.
    pub fn keepalive(&self) -> std::time::Duration {
        self.subscription.keepalive
    }

    /// The next item, or `None` once the feed has ended. Cancel-safe: dropping the future loses
    /// nothing.
    pub async fn next(&mut self) -> Option<FeedItem> {
        if self.closed {
            return None;
        }
        while let Some(record) = self.snapshot.pop_front() {
            if self.is_new(&record) {
                self.refresh_rate().await;
                return Some(FeedItem::Price(Arc::new(PriceEvent::new(record))));
            }
        }
        loop {
            let received = tokio::select! {
                biased;
                () = self.subscription.closing.cancelled() => {
                    self.closed = true;
                    return Some(FeedItem::Closing);
                }
                received = self.subscription.receiver.recv() => received,
            };
            match received {
                Ok(event) => {
                    if self.wants(&event.record.coin_id) && self.is_new(&event.record) {
                        self.refresh_rate().await;
                        return Some(FeedItem::Price(event));
                    }
                }
                Err(RecvError::Lagged(missed)) => return Some(FeedItem::Lagged(missed)),
                // The hub is gone with the state: the server is stopping.
                Err(RecvError::Closed) => {
                    self.closed = true;
                    return Some(FeedItem::Closing);
                }
            }
        }
    }

    fn wants(&self, coin: &CoinId) -> bool {
        self.filter
            .as_ref()
            .is_none_or(|filter| filter.contains(coin))
    }

    /// Whether `record` is newer than anything sent for its coin; if so, it counts as sent.
    fn is_new(&mut self, record: &PriceRecord) -> bool {
        match self.sent.get(&record.coin_id) {
            Some(sent) if *sent >= record.order() => false,
            _ => {
                self.sent.insert(record.coin_id.clone(), record.order());
                true
            }
        }
    }
}
