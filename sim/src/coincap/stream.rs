//! `GET /coincap/prices?assets=bitcoin,ethereum` (or `assets=ALL`; `apiKey` as v3 asks): a
//! WebSocket of flat JSON objects, each naming only the assets whose price changed since the
//! connection's last message, the price a string (`{"bitcoin":"96123.45678901"}`), with no
//! envelope and no timestamp. Checked [`crate::StreamConfig::trades_per_sec`] times a second;
//! the market moves once a step, so a message goes out once a step per asset. The connection
//! closes at [`crate::StreamConfig::lifetime_secs`] like Binance's. The server sends no pings
//! (its WebSocket layer answers a client's).
//!
//! Stream faults (`ProviderFaults` of `coincap`, see [`crate::connection`]): `down` refuses the
//! upgrade with 503; `stream_silent` keeps connections open without messages (prices that
//! changed meanwhile go out when it clears); `stream_malformed_rate` breaks that share of
//! messages (never recorded as served); the `drop_streams` control closes every open connection
//! with a Close frame (1001).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::time::MissedTickBehavior;

use crate::connection::{self, Batch, Connection, Malformation};
use crate::market::now_unix_ms;
use crate::number::significant;
use crate::state::{SimState, lock};
use crate::{Provider, ServedTick};

pub(super) async fn prices(
    State(state): State<Arc<SimState>>,
    Query(params): Query<HashMap<String, String>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !state.accepts_key(params.get("apiKey").map(String::as_str)) {
        return (StatusCode::UNAUTHORIZED, "invalid apiKey").into_response();
    }
    let assets = match params.get("assets").map(String::as_str) {
        None | Some("") => return (StatusCode::BAD_REQUEST, "missing assets").into_response(),
        Some("ALL") => (0..state.market.coin_count())
            .map(|i| state.market.id(i))
            .take_while(|id| !id.starts_with("sim-coin-"))
            .map(|coin| Asset {
                wire: super::coincap_id(&coin).to_owned(),
                coin,
            })
            .collect(),
        Some(list) => {
            let assets: Vec<Asset> = list
                .split(',')
                .map(|wire| Asset {
                    coin: super::catalogue_id(wire).to_owned(),
                    wire: wire.to_owned(),
                })
                .collect();
            // A catalogue id CoinCap spells otherwise is no CoinCap id.
            let known = |a: &Asset| {
                state.market.info(&a.coin).is_some() && super::coincap_id(&a.coin) == a.wire
            };
            if let Some(unknown) = assets.iter().find(|a| !known(a)) {
                return (
                    StatusCode::BAD_REQUEST,
                    format!("unknown asset {}", unknown.wire),
                )
                    .into_response();
            }
            assets
        }
    };
    upgrade
        .max_message_size(64 * 1024)
        .on_upgrade(move |socket| serve(state, assets, socket))
        .into_response()
}

/// One asset of a connection: as CoinCap names it on the wire, and its catalogue (CoinGecko) id.
#[derive(Debug, Clone)]
struct Asset {
    wire: String,
    coin: String,
}

/// One connection until the client leaves, its lifetime ends, or a `drop_streams` closes it.
async fn serve(state: Arc<SimState>, assets: Vec<Asset>, socket: WebSocket) {
    let mut conn = Connection::open(&state, Provider::CoinCap);
    let config = state.streams;
    let (mut tx, mut rx) = socket.split();
    let mut clock = tokio::time::interval(Duration::from_secs_f64(
        1.0 / config.trades_per_sec.max(0.001),
    ));
    clock.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let end_of_life = tokio::time::sleep(Duration::from_secs(config.lifetime_secs.max(1)));
    tokio::pin!(end_of_life);
    let mut last: HashMap<String, String> = HashMap::new();
    loop {
        tokio::select! {
            _ = clock.tick() => {
                let batch = tick(&state, &conn, &assets, &mut last);
                if !batch.is_empty() && !conn.send(&mut tx, batch).await {
                    return;
                }
            }
            () = &mut end_of_life => {
                let _ = tx.send(Message::Close(None)).await;
                return;
            }
            close = conn.dropped() => {
                let _ = tx.send(close).await;
                return;
            }
            incoming = rx.next() => match incoming {
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// This tick's message: the assets whose price changed since the last message this connection
/// sent intact, recorded as served; nothing while silent or when nothing changed. A malformed
/// message changes neither `last` nor the served record, so the next tick sends those prices
/// again.
fn tick(
    state: &SimState,
    conn: &Connection,
    assets: &[Asset],
    last: &mut HashMap<String, String>,
) -> Batch {
    let faults = conn.faults();
    let mut batch = Batch::default();
    if faults.silent {
        return batch;
    }
    let changed = changes(state, assets, last);
    if changed.is_empty() {
        return batch;
    }
    let text = serde_json::to_string(&changed).expect("strings serialize");
    if let Some(kind) = conn.malformation(faults.malformed_rate) {
        batch.malformed(malformed(kind, &changed, &text));
        return batch;
    }
    let now_ms = now_unix_ms();
    let mut served = lock(&state.served);
    for (id, usd) in changed {
        let coin = assets
            .iter()
            .find(|a| a.wire == id)
            .map_or(&id, |a| &a.coin);
        served.coincap_stream.insert(
            coin.clone(),
            ServedTick {
                usd: usd.clone(),
                event_time_ms: now_ms,
                trade_id: 0,
            },
        );
        last.insert(id, usd);
    }
    batch.data(text);
    batch
}

/// The assets whose price text differs from the last one this connection sent intact.
fn changes(
    state: &SimState,
    assets: &[Asset],
    last: &HashMap<String, String>,
) -> BTreeMap<String, String> {
    let mut quotes = state.market.quotes();
    assets
        .iter()
        .filter_map(|a| {
            let price = significant(quotes.get(&a.coin)?.price_usd, 12);
            (last.get(&a.wire) != Some(&price)).then(|| (a.wire.clone(), price))
        })
        .collect()
}

/// A broken version of the message `valid` of `changed`: cut in half, each asset's price
/// missing (`null`), each price not a number, or a binary frame.
fn malformed(kind: Malformation, changed: &BTreeMap<String, String>, valid: &str) -> Message {
    let with_each = |price: Value| {
        let object: BTreeMap<&str, Value> = changed
            .keys()
            .map(|id| (id.as_str(), price.clone()))
            .collect();
        Message::Text(
            serde_json::to_string(&object)
                .expect("JSON serializes")
                .into(),
        )
    };
    match kind {
        Malformation::Truncated => connection::truncated(valid),
        Malformation::MissingFields => with_each(Value::Null),
        Malformation::NotANumber => with_each(Value::from(connection::NOT_A_NUMBER)),
        Malformation::Binary => connection::binary(),
    }
}
