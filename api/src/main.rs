//! `coinbeat-api`: serves the API until SIGINT or SIGTERM (see [`coinbeat_api::boot`]).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    coinbeat_api::boot::main().await
}
