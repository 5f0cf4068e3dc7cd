//! `GET /coincap/prices?assets=bitcoin,ethereum` (or `assets=ALL`; `apiKey` as v3 asks): a
//! WebSocket of flat JSON objects, each naming only the assets whose price changed since the
//! connection's last message, the price a string (`{"bitcoin":"96123.45678901"}`), with no
//! envelope and no timestamp. Checked [`crate::StreamConfig::trades_per_sec`] times a second;
//! the market moves once a step, so a message goes out once a step per asset. The connection
//! closes at [`crate::StreamConfig::lifetime_secs`] like Binance's.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use tokio::time::MissedTickBehavior;

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
            .collect(),
        Some(list) => {
            let ids: Vec<String> = list.split(',').map(str::to_owned).collect();
            if let Some(unknown) = ids.iter().find(|id| state.market.info(id).is_none()) {
                return (StatusCode::BAD_REQUEST, format!("unknown asset {unknown}"))
                    .into_response();
            }
            ids
        }
    };
    upgrade
        .max_message_size(64 * 1024)
        .on_upgrade(move |socket| serve(state, assets, socket))
        .into_response()
}

async fn serve(state: Arc<SimState>, assets: Vec<String>, socket: WebSocket) {
    lock(&state.stats).record_stream(Provider::CoinCap, true);
    let _closed = Closed(Arc::clone(&state));
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
                let changed = changes(&state, &assets, &mut last);
                if changed.is_empty() {
                    continue;
                }
                let text = serde_json::to_string(&changed).expect("strings serialize");
                if tx.send(Message::Text(text.into())).await.is_err() {
                    return;
                }
            }
            () = &mut end_of_life => {
                let _ = tx.send(Message::Close(None)).await;
                return;
            }
            incoming = rx.next() => match incoming {
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// The assets whose price text differs from the last one this connection sent, recorded as
/// served.
fn changes(
    state: &SimState,
    assets: &[String],
    last: &mut HashMap<String, String>,
) -> BTreeMap<String, String> {
    let now_ms = now_unix_ms();
    let mut quotes = state.market.quotes();
    let mut changed = BTreeMap::new();
    for id in assets {
        let Some(quote) = quotes.get(id) else {
            continue;
        };
        let price = significant(quote.price_usd, 12);
        if last.get(id) != Some(&price) {
            last.insert(id.clone(), price.clone());
            changed.insert(id.clone(), price);
        }
    }
    drop(quotes);
    let mut served = lock(&state.served);
    for (id, usd) in &changed {
        served.coincap_stream.insert(
            id.clone(),
            ServedTick {
                usd: usd.clone(),
                event_time_ms: now_ms,
                trade_id: 0,
            },
        );
    }
    changed
}

/// Marks the connection closed in the stats, however [`serve`] returns.
struct Closed(Arc<SimState>);

impl Drop for Closed {
    fn drop(&mut self) {
        lock(&self.0.stats).record_stream(Provider::CoinCap, false);
    }
}
