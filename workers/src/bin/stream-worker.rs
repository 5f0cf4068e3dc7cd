//! `stream-worker`: streams live prices into the cache until SIGINT or SIGTERM.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    coinbeat_workers::stream::main().await
}
