//! `cleanup-worker`: runs the `cleanup` queue until SIGINT or SIGTERM.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    coinbeat_workers::boot::main::<coinbeat_workers::cleanup::CleanupWorker>().await
}
