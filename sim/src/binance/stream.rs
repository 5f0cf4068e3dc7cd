//! Binance's combined market streams, as served at `{root}/binance/stream?streams=a/b/…` (a
//! WebSocket; a client's Binance stream base URL is `ws://HOST:PORT/binance`). Wire formats follow
//! providers.md §5: every event wrapped `{"stream":"<name>","data":<payload>}`, names lowercase.
//!
//! Streams served: `<symbol>@aggTrade` (every trade as it happens, [`StreamConfig::trades_per_sec`]
//! per symbol) and `<symbol>@ticker` / `<symbol>@miniTicker` (the rolling 24 h figures, every
//! second). A trade's price is the coin's price at the market's current step, with Binance's 8
//! decimals, so it agrees with `/api/v3/ticker/price` at the same moment.
//!
//! Like Binance: a ping frame every `ping_secs` (a client that sends no pong within
//! `pong_timeout_secs` is disconnected), at most 1024 streams per connection, and every
//! connection closed `lifetime_secs` after it opened, with a Close frame. `{"method":"SUBSCRIBE",…}` and other
//! requests are answered `{"result":null,"id":…}` and change nothing. A stream name that is not
//! one of these, or names a pair not listed, is refused before the upgrade (400, Binance's error
//! body: the simulator's choice, as Binance's own answer is not documented).
//!
//! Stream faults (`ProviderFaults` of `binance`, see [`crate::connection`]): `down` refuses the
//! upgrade with 503; `stream_silent` keeps connections open and pinging without events;
//! `stream_malformed_rate` breaks that share of events (never recorded as served); the
//! `drop_streams` control closes every open connection with a Close frame (1001).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::time::{Instant, MissedTickBehavior};

use super::responses;
use super::symbols::{Pair, listed};
use super::tickers::{day_row, p8, qty8};
use crate::connection::{self, Batch, Connection, Malformation};
use crate::market::{Quote, now_unix_ms};
use crate::state::{SimState, lock};
use crate::{Provider, Served, ServedTick};

/// Binance's documented cap on streams per connection.
pub(crate) const MAX_STREAMS: usize = 1024;

/// One stream of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stream {
    /// As the client named it, e.g. `btcusdt@aggTrade`.
    name: String,
    pair: Pair,
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    AggTrade,
    Ticker,
    MiniTicker,
}

impl Kind {
    /// The field of the event's data that carries the price a client records.
    fn price_field(self) -> &'static str {
        match self {
            Self::AggTrade => "p",
            Self::Ticker | Self::MiniTicker => "c",
        }
    }
}

/// `GET /binance/stream?streams=…`: the WebSocket upgrade.
pub(super) async fn combined(
    State(state): State<Arc<SimState>>,
    Query(params): Query<HashMap<String, String>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let streams = match parse(params.get("streams").map(String::as_str), &state) {
        Ok(streams) => streams,
        Err(msg) => return responses::bad_request((-1100, msg), 0),
    };
    upgrade
        .max_message_size(64 * 1024)
        .on_upgrade(move |socket| serve(state, streams, socket))
        .into_response()
}

fn parse(raw: Option<&str>, state: &SimState) -> Result<Vec<Stream>, &'static str> {
    let raw = raw.filter(|r| !r.is_empty()).ok_or("Missing streams.")?;
    let names: Vec<&str> = raw.split('/').collect();
    if names.len() > MAX_STREAMS {
        return Err("Too many streams: at most 1024 per connection.");
    }
    let pairs: HashMap<String, Pair> = listed(&state.market)
        .into_iter()
        .map(|p| (p.symbol.to_ascii_lowercase(), p))
        .collect();
    names
        .into_iter()
        .map(|name| {
            let (symbol, kind) = name.split_once('@').ok_or("Invalid stream name.")?;
            let kind = match kind {
                "aggTrade" => Kind::AggTrade,
                "ticker" => Kind::Ticker,
                "miniTicker" => Kind::MiniTicker,
                _ => return Err("Invalid stream name."),
            };
            let pair = pairs.get(symbol).ok_or("Invalid symbol.")?.clone();
            Ok(Stream {
                name: name.to_owned(),
                pair,
                kind,
            })
        })
        .collect()
}

/// One connection until the client leaves, stops answering pings, its lifetime ends, or a
/// `drop_streams` closes it.
async fn serve(state: Arc<SimState>, streams: Vec<Stream>, socket: WebSocket) {
    let mut conn = Connection::open(&state, Provider::Binance);
    let config = state.streams;
    let (mut tx, mut rx) = socket.split();
    let trades: Vec<&Stream> = streams
        .iter()
        .filter(|s| s.kind == Kind::AggTrade)
        .collect();
    let tickers: Vec<&Stream> = streams
        .iter()
        .filter(|s| s.kind != Kind::AggTrade)
        .collect();

    let period = |secs: f64| Duration::from_secs_f64(secs.max(0.001));
    let mut trade_clock = tokio::time::interval(period(1.0 / config.trades_per_sec.max(0.001)));
    trade_clock.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut ticker_clock = tokio::time::interval(Duration::from_secs(1));
    ticker_clock.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let ping_every = Duration::from_secs(config.ping_secs.max(1));
    let mut ping_clock = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
    let pong_timeout = Duration::from_secs(config.pong_timeout_secs.max(1));
    let end_of_life = tokio::time::sleep(Duration::from_secs(config.lifetime_secs.max(1)));
    tokio::pin!(end_of_life);
    let mut last_pong = Instant::now();

    loop {
        let batch: Batch = tokio::select! {
            _ = trade_clock.tick(), if !trades.is_empty() => trade_events(&state, &conn, &trades),
            _ = ticker_clock.tick(), if !tickers.is_empty() => {
                ticker_events(&state, &conn, &tickers)
            }
            _ = ping_clock.tick() => {
                if last_pong.elapsed() > pong_timeout {
                    break;
                }
                if tx.send(Message::Ping(now_unix_ms().to_string().into())).await.is_err() {
                    break;
                }
                continue;
            }
            () = &mut end_of_life => {
                let _ = tx.send(Message::Close(None)).await;
                break;
            }
            close = conn.dropped() => {
                let _ = tx.send(close).await;
                break;
            }
            incoming = rx.next() => match incoming {
                Some(Ok(Message::Pong(_))) => {
                    last_pong = Instant::now();
                    continue;
                }
                Some(Ok(Message::Text(text))) => match answer(&text) {
                    Some(reply) => Batch::reply(reply),
                    None => continue,
                },
                Some(Ok(Message::Ping(_) | Message::Binary(_))) => continue,
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
            },
        };
        if !batch.is_empty() && !conn.send(&mut tx, batch).await {
            return;
        }
    }
}

/// The reply to a request frame (`SUBSCRIBE`, `LIST_SUBSCRIPTIONS`, …): `{"result":null,"id":…}`;
/// nothing for a frame that is not a request.
fn answer(text: &str) -> Option<String> {
    let request: Value = serde_json::from_str(text).ok()?;
    request.get("method")?;
    Some(
        json!({"result": null, "id": request.get("id").cloned().unwrap_or(Value::Null)})
            .to_string(),
    )
}

/// One event per stream whose coin is listed, now, its data made by `event` (given the quote and
/// the time in ms); nothing while the stream is silent. Returns the batch and what `event` said
/// of each event sent intact.
fn events<T>(
    state: &SimState,
    conn: &Connection,
    streams: &[&Stream],
    mut event: impl FnMut(&Stream, &Quote, u64) -> (Value, T),
) -> (Batch, Vec<T>) {
    let faults = conn.faults();
    let mut batch = Batch::default();
    let mut intact = Vec::new();
    if faults.silent {
        return (batch, intact);
    }
    let now_ms = now_unix_ms();
    let mut quotes = state.market.quotes();
    for stream in streams {
        let Some(quote) = quotes.get(&stream.pair.coin_id) else {
            continue;
        };
        let (data, sent) = event(stream, &quote, now_ms);
        match conn.malformation(faults.malformed_rate) {
            Some(kind) => batch.malformed(malformed(kind, stream, data)),
            None => {
                batch.data(envelope(stream, data));
                intact.push(sent);
            }
        }
    }
    (batch, intact)
}

/// One trade per stream, now; nothing while the stream is silent. Only the trades sent intact
/// are recorded as served.
fn trade_events(state: &SimState, conn: &Connection, streams: &[&Stream]) -> Batch {
    let (batch, served) = events(state, conn, streams, |stream, quote, now_ms| {
        let id = state.trade_ids.fetch_add(1, Ordering::Relaxed) + 1;
        let price = p8(quote.price_usd);
        // A trade of 50 to 550 USD, its side alternating.
        let quantity =
            qty8(((50.0 + (id % 11) as f64 * 50.0) / quote.price_usd * 1e8).round() / 1e8);
        let data = json!({
            "e": "aggTrade",
            "E": now_ms,
            "s": stream.pair.symbol,
            "a": id,
            "p": price,
            "q": quantity,
            "f": id,
            "l": id,
            "T": now_ms,
            "m": id.is_multiple_of(2),
            "M": true,
        });
        let tick = ServedTick {
            usd: price,
            event_time_ms: now_ms,
            trade_id: id,
        };
        (data, (stream.pair.symbol.clone(), tick))
    });
    Served::record_ticks(&mut lock(&state.served).binance_stream, served);
    batch
}

/// The 24 h figures of each ticker stream, now; nothing while the stream is silent.
fn ticker_events(state: &SimState, conn: &Connection, streams: &[&Stream]) -> Batch {
    let (batch, _) = events(state, conn, streams, |stream, quote, now_ms| {
        let day = day_row(&stream.pair, quote, now_ms);
        let data = match stream.kind {
            Kind::MiniTicker => json!({
                "e": "24hrMiniTicker", "E": now_ms, "s": day.symbol,
                "c": day.last_price, "o": day.open_price, "h": day.high_price,
                "l": day.low_price, "v": day.volume, "q": day.quote_volume,
            }),
            _ => json!({
                "e": "24hrTicker", "E": now_ms, "s": day.symbol,
                "p": day.price_change, "P": day.price_change_percent,
                "w": day.weighted_avg_price, "x": day.prev_close_price,
                "c": day.last_price, "Q": day.last_qty, "b": day.bid_price,
                "B": day.bid_qty, "a": day.ask_price, "A": day.ask_qty,
                "o": day.open_price, "h": day.high_price, "l": day.low_price,
                "v": day.volume, "q": day.quote_volume, "O": day.open_time,
                "C": day.close_time, "F": day.first_id, "L": day.last_id, "n": day.count,
            }),
        };
        (data, ())
    });
    batch
}

/// `{"stream":"<name>","data":<data>}`, Binance's combined-stream envelope.
fn envelope(stream: &Stream, data: Value) -> String {
    json!({"stream": stream.name, "data": data}).to_string()
}

/// A broken version of the event `data` of `stream`: cut in half, in its envelope without the
/// fields a price needs (only `e` and `E` left), with the price (`p` of a trade, `c` of a
/// ticker) not a number, or a binary frame.
fn malformed(kind: Malformation, stream: &Stream, mut data: Value) -> Message {
    match kind {
        Malformation::Truncated => connection::truncated(&envelope(stream, data)),
        Malformation::MissingFields => {
            let kept = json!({"e": data["e"], "E": data["E"]});
            Message::Text(envelope(stream, kept).into())
        }
        Malformation::NotANumber => {
            data[stream.kind.price_field()] = json!(connection::NOT_A_NUMBER);
            Message::Text(envelope(stream, data).into())
        }
        Malformation::Binary => connection::binary(),
    }
}
