//! `wallet-worker`: runs the `wallet` queue until SIGINT or SIGTERM.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    coinbeat_workers::boot::main::<coinbeat_workers::wallet::WalletWorker>().await
}
