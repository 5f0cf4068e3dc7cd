//! `catalogue-worker`: runs the `catalogue` queue until SIGINT or SIGTERM.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    coinbeat_workers::boot::main::<coinbeat_workers::catalogue::CatalogueWorker>().await
}
