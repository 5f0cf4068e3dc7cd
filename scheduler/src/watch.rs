//! The watched wallets an operator added in Redis (`/v1/admin/wallets`,
//! `coinbeat_shared::watched_wallets`): every `wallets.watch_refresh_secs` the scheduler reads
//! that list and runs one beat per address, exactly like the entries `wallets.watched` makes at
//! start (`wallet-{chain}-{address}` on `wallets.watch_cron`, claimed per tick, caught up once),
//! so replicas still enqueue one job per tick and an added address is analysed at once (a
//! never-run entry runs at its first start). An address removed from the list has its beat
//! stopped; an address also in the settings is left to the settings' entry.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::Duration,
};

use coinbeat_shared::{Settings, keys::Keys, settings::WalletSettings, watched_wallets};
use redis::aio::ConnectionManager;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::{beat, claim::Claimer, entry::Entry, metrics::SchedulerMetrics};

/// Runs until `shutdown`; `static_names` are the entries the settings already run.
pub(crate) async fn run(
    settings: Arc<Settings>,
    claimer: Claimer,
    conn: ConnectionManager,
    keys: Keys,
    metrics: SchedulerMetrics,
    static_names: BTreeSet<String>,
    shutdown: CancellationToken,
) {
    let wallets = &settings.wallets;
    let every = Duration::from_secs(wallets.watch_refresh_secs.max(1));
    let mut running: BTreeMap<String, CancellationToken> = BTreeMap::new();
    let mut beats = JoinSet::new();
    loop {
        match watched_wallets::list(&conn, &keys, wallets.chain).await {
            Ok(addresses) => {
                let mut wanted = BTreeSet::new();
                for address in addresses {
                    let name = WalletSettings::entry_name(wallets.chain, &address);
                    if static_names.contains(&name) {
                        continue;
                    }
                    wanted.insert(name.clone());
                    if running.contains_key(&name) {
                        continue;
                    }
                    match Entry::parse(&name, &wallets.watch_entry(&address), &settings) {
                        Ok(entry) => {
                            tracing::info!(
                                entry = name.as_str(),
                                "watching a wallet added in redis"
                            );
                            metrics.register_entry(&name);
                            let stop = shutdown.child_token();
                            beats.spawn(beat::run_entry(
                                Arc::new(entry),
                                claimer.clone(),
                                stop.clone(),
                            ));
                            running.insert(name, stop);
                        }
                        Err(e) => {
                            tracing::warn!(entry = name.as_str(), error = %e, "cannot watch wallet")
                        }
                    }
                }
                running.retain(|name, stop| {
                    let keep = wanted.contains(name);
                    if !keep {
                        tracing::info!(entry = name.as_str(), "wallet no longer watched");
                        stop.cancel();
                    }
                    keep
                });
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the watched wallets; retrying"),
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {},
            () = shutdown.cancelled() => break,
        }
        while let Some(done) = beats.try_join_next() {
            if let Err(e) = done {
                tracing::error!(error = %e, "a wallet beat failed");
            }
        }
    }
    while beats.join_next().await.is_some() {}
}
