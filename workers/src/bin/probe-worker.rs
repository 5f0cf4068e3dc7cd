//! `probe-worker`: runs the diagnostic `probe` queue until SIGINT or SIGTERM.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    coinbeat_workers::boot::main("probe-worker").await
}
