//! The stream-worker's own metrics: events read, records written and how old they were when
//! written, reconnects, malformed frames, and what each shard streams from.

use coinbeat_shared::metrics::{Counter, Gauge, Histogram, Registry};

/// Age at write (exchange event → Redis write), in seconds: the coalescing window dominates.
const AGE_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.5, 1.0, 2.5,
];

#[derive(Debug, Clone)]
pub struct StreamMetrics {
    /// `coinbeat_stream_events_total{source}`: price events read.
    pub events: Counter,
    /// `coinbeat_stream_records_written_total{source}`: coalesced records written.
    pub written: Counter,
    /// `coinbeat_stream_write_errors_total`: coalesced writes Redis refused (dropped; the
    /// next window has newer prices).
    pub write_errors: Counter,
    /// `coinbeat_stream_reconnects_total{source}`.
    pub reconnects: Counter,
    /// `coinbeat_stream_malformed_frames_total{source}`: counted and skipped.
    pub malformed: Counter,
    /// `coinbeat_stream_age_at_write_seconds{source}`: now minus the event's time, at write.
    pub age_at_write: Histogram,
    /// `coinbeat_stream_connected{source,shard}`: 1 while a connection is open.
    pub connected: Gauge,
    /// `coinbeat_stream_shards_held`: shards this replica holds the lease of.
    pub shards_held: Gauge,
}

impl StreamMetrics {
    pub fn new(registry: &Registry) -> Self {
        Self {
            events: registry.counter(
                "coinbeat_stream_events_total",
                "Price events read from the market streams.",
                &["source"],
            ),
            written: registry.counter(
                "coinbeat_stream_records_written_total",
                "Coalesced price records sent to the cache (a record older than the cached one is left out there).",
                &["source"],
            ),
            write_errors: registry.counter(
                "coinbeat_stream_write_errors_total",
                "Coalesced writes that failed (dropped: the next window carries newer prices).",
                &[],
            ),
            reconnects: registry.counter(
                "coinbeat_stream_reconnects_total",
                "Stream connections opened again after one was lost, went silent or aged out.",
                &["source"],
            ),
            malformed: registry.counter(
                "coinbeat_stream_malformed_frames_total",
                "Stream frames that could not be read, skipped.",
                &["source"],
            ),
            age_at_write: registry.histogram(
                "coinbeat_stream_age_at_write_seconds",
                "How old a streamed price was when written: now minus the event's time.",
                &["source"],
                &AGE_BUCKETS,
            ),
            connected: registry.gauge(
                "coinbeat_stream_connected",
                "1 while the shard's connection to the source is open.",
                &["source", "shard"],
            ),
            shards_held: registry.gauge(
                "coinbeat_stream_shards_held",
                "Shards of the streamed symbols this replica holds the lease of.",
                &[],
            ),
        }
    }
}
