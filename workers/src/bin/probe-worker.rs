//! `probe-worker`: runs the diagnostic `probe` queue until SIGINT or SIGTERM.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    coinbeat_workers::boot::main::<coinbeat_workers::probe::ProbeWorker>().await
}
