//! `alerts-worker`: runs the `alerts` queue until SIGINT or SIGTERM.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    coinbeat_workers::boot::main::<coinbeat_workers::alerts::AlertsWorker>().await
}
