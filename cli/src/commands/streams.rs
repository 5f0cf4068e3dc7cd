//! `coinbeat streams`: each shard of the streamed symbols, as its stream-worker last said:
//! phase (connecting, streaming, reconnecting, failed_over, down, unowned), source, holder,
//! the newest event's age, ticks, reconnects, malformed frames.

use std::process::ExitCode;

use chrono::Utc;
use coinbeat_shared::stream_state;

use crate::output;

pub async fn streams(settings: &coinbeat_shared::Settings, json: bool) -> anyhow::Result<ExitCode> {
    let super::Connected { conn, keys, .. } = super::connect(settings).await?;
    let states = stream_state::load(&conn, &keys).await?;
    if json {
        output::json(&states);
        return Ok(ExitCode::SUCCESS);
    }
    if states.is_empty() {
        println!(
            "no stream-worker has streamed lately (streams.enabled: {})",
            settings.streams.enabled
        );
        return Ok(ExitCode::SUCCESS);
    }
    let now = Utc::now();
    println!(
        "{:<5} {:<12} {:<10} {:>7} {:>10} {:>9} {:>10} {:>9}  holder",
        "shard", "phase", "source", "symbols", "last event", "ticks", "reconnects", "malformed"
    );
    for s in states {
        let last = s.last_event_at.map_or("-".to_owned(), |at| {
            format!("{}ms", (now - at).num_milliseconds().max(0))
        });
        let phase = serde_json::to_value(s.phase).expect("a phase serializes");
        println!(
            "{:<5} {:<12} {:<10} {:>7} {:>10} {:>9} {:>10} {:>9}  {}",
            s.shard,
            phase.as_str().unwrap_or_default(),
            s.source,
            s.symbols,
            last,
            s.ticks,
            s.reconnects,
            s.malformed,
            s.holder
        );
    }
    Ok(ExitCode::SUCCESS)
}
