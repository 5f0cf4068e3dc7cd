//! `coinbeat-sim`: serves the simulated upstream APIs until SIGINT or SIGTERM (see
//! [`coinbeat_sim::cli`]).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    coinbeat_sim::cli::main().await
}
