//! `probe-worker`: runs the diagnostic `probe` queue.

use coinbeat_shared::jobs::ProbeJob;
use coinbeat_workers::{boot, probe};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    boot::run::<ProbeJob, _, _>("probe-worker", |env| {
        let (conn, keys) = (env.conn.clone(), env.keys.clone());
        move |job, ctx| probe::handle(conn.clone(), keys.clone(), job, ctx)
    })
    .await
}
