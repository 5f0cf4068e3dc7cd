//! One WebSocket stream connection, whatever the provider: counted while open, its faults read
//! at every tick (silence, malformed frames), closed when `drop_streams` is ordered, and its data
//! frames counted as they go out. Each provider's `stream.rs` builds its own frames, valid and
//! malformed; this is what they share.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::ws::{CloseFrame, Message, WebSocket, close_code};
use futures::SinkExt;
use futures::stream::SplitSink;
use tokio::sync::watch;

use crate::Provider;
use crate::rng;
use crate::state::{SimState, lock};

/// The seed's streams for malformed frames: whether a frame is malformed, and how (coins use
/// streams from 0, injected errors `u64::MAX`).
const MALFORMED_STREAM: u64 = u64::MAX - 1;
const MALFORMATION_KIND_STREAM: u64 = u64::MAX - 2;

/// What a `NotANumber` frame carries where the price belongs.
pub(crate) const NOT_A_NUMBER: &str = "n/a";

/// How a malformed data frame is broken. A client must reject each kind without losing the
/// connection or recording a price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Malformation {
    /// The valid frame's text cut in half: not JSON.
    Truncated,
    /// JSON of the provider's shape whose payload lacks the fields a price needs.
    MissingFields,
    /// JSON of the provider's shape whose price is [`NOT_A_NUMBER`].
    NotANumber,
    /// A binary frame, which neither provider sends, of bytes that are not UTF-8.
    Binary,
}

impl Malformation {
    const ALL: [Self; 4] = [
        Self::Truncated,
        Self::MissingFields,
        Self::NotANumber,
        Self::Binary,
    ];
}

/// A [`Malformation::Truncated`] frame of `valid`: its first half. A strict prefix of a JSON
/// object never parses, so the frame is malformed whatever the data.
pub(crate) fn truncated(valid: &str) -> Message {
    let mut end = valid.len() / 2;
    while !valid.is_char_boundary(end) {
        end -= 1;
    }
    Message::Text(valid[..end].to_owned().into())
}

/// A [`Malformation::Binary`] frame: bytes that are neither UTF-8 nor JSON.
pub(crate) fn binary() -> Message {
    Message::Binary(vec![0xFF, 0xFE, 0x00, 0x7B, 0xC0].into())
}

/// Each provider's drop generation: `drop_streams` bumps it, and every open connection of that
/// provider watches it. A connection opened after the bump never sees it, so a drop closes only
/// the connections open at that moment.
#[derive(Debug)]
pub(crate) struct Drops(BTreeMap<Provider, watch::Sender<u64>>);

impl Drops {
    pub(crate) fn new() -> Self {
        Self(
            Provider::ALL
                .into_iter()
                .map(|provider| (provider, watch::Sender::new(0)))
                .collect(),
        )
    }

    /// Closes every stream connection of `provider` open now.
    pub(crate) fn order(&self, provider: Provider) {
        // `send_modify` updates even when no connection listens, unlike `send`.
        self.sender(provider)
            .send_modify(|generation| *generation += 1);
    }

    fn subscribe(&self, provider: Provider) -> watch::Receiver<u64> {
        self.sender(provider).subscribe()
    }

    fn sender(&self, provider: Provider) -> &watch::Sender<u64> {
        self.0
            .get(&provider)
            .expect("Drops::new makes a sender per provider")
    }
}

/// The stream faults one tick runs under, read at its start so a change applies at the next one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TickFaults {
    pub(crate) silent: bool,
    pub(crate) malformed_rate: f64,
}

/// The frames one tick of a connection sends, each marked as data or not, so the data frames can
/// be counted once they are out.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    frames: Vec<(Message, Sent)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    Data,
    Malformed,
    /// A reply to a request frame: not data.
    Reply,
}

impl Batch {
    pub(crate) fn data(&mut self, text: String) {
        self.frames.push((Message::Text(text.into()), Sent::Data));
    }

    pub(crate) fn malformed(&mut self, frame: Message) {
        self.frames.push((frame, Sent::Malformed));
    }

    pub(crate) fn reply(text: String) -> Self {
        Self {
            frames: vec![(Message::Text(text.into()), Sent::Reply)],
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

/// One open stream connection. Counted open in the stats from [`Connection::open`] until it is
/// dropped, however its `serve` loop ends.
#[derive(Debug)]
pub(crate) struct Connection {
    state: Arc<SimState>,
    provider: Provider,
    drops: watch::Receiver<u64>,
}

impl Connection {
    pub(crate) fn open(state: &Arc<SimState>, provider: Provider) -> Self {
        // Watch for drops before counting the connection open: a test that sees it open and
        // then orders a drop must see it dropped.
        let drops = state.drops.subscribe(provider);
        lock(&state.stats).record_stream(provider, true);
        Self {
            state: Arc::clone(state),
            provider,
            drops,
        }
    }

    pub(crate) fn faults(&self) -> TickFaults {
        let faults = lock(&self.state.faults);
        let own = faults.provider(self.provider);
        TickFaults {
            silent: own.stream_silent,
            malformed_rate: own.stream_malformed_rate,
        }
    }

    /// Whether the next data frame is malformed, and how: a pure function of the seed and the
    /// number of frames drawn so far, so a run's malformed frames follow its seed.
    pub(crate) fn malformation(&self, rate: f64) -> Option<Malformation> {
        if rate <= 0.0 {
            return None;
        }
        let seed = self.state.seed;
        let n = self.state.malformed_draws.fetch_add(1, Ordering::Relaxed);
        if rng::unit(seed, MALFORMED_STREAM, n) >= rate {
            return None;
        }
        let kinds = Malformation::ALL.len() as u64;
        let kind = rng::bits(seed, MALFORMATION_KIND_STREAM, n) % kinds;
        Some(Malformation::ALL[kind as usize])
    }

    /// Resolves when `drop_streams` is ordered for this provider, counts the drop, and gives the
    /// Close frame to send before ending the connection (1001, going away, as a server that
    /// goes down for maintenance says).
    pub(crate) async fn dropped(&mut self) -> Message {
        if self.drops.changed().await.is_err() {
            // The sender lives in the state this connection holds: it cannot go. Never drop.
            std::future::pending::<()>().await;
        }
        lock(&self.state.stats).record_dropped(self.provider);
        Message::Close(Some(CloseFrame {
            code: close_code::AWAY,
            reason: "maintenance".into(),
        }))
    }

    /// Sends a batch and counts its data frames; `false` when the client is gone.
    pub(crate) async fn send(&self, tx: &mut SplitSink<WebSocket, Message>, batch: Batch) -> bool {
        let (mut data, mut malformed) = (0, 0);
        let mut open = true;
        for (frame, sent) in batch.frames {
            if tx.feed(frame).await.is_err() {
                open = false;
                break;
            }
            match sent {
                Sent::Data => data += 1,
                Sent::Malformed => {
                    data += 1;
                    malformed += 1;
                }
                Sent::Reply => {}
            }
        }
        // One flush per tick: a thousand streams' frames go out together.
        open = open && tx.flush().await.is_ok();
        if data > 0 {
            lock(&self.state.stats).record_frames(self.provider, data, malformed);
        }
        open
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        lock(&self.state.stats).record_stream(self.provider, false);
    }
}
