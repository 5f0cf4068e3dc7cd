//! Why the simulator could not start or could not apply a change.

use std::net::SocketAddr;

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the server stopped with an error")]
    Serve(#[source] std::io::Error),
    #[error("error_rate must be a fraction within 0..=1, got {0}")]
    ErrorRate(f64),
    #[error("stream_malformed_rate must be a fraction within 0..=1, got {0}")]
    MalformedRate(f64),
    #[error("{} has no stream, so stream faults do not apply to it", .0.label())]
    NoStream(crate::Provider),
    #[error("{0} applies to one provider: name it with `provider`")]
    ProviderOnly(&'static str),
    #[error("no coin has the id {0:?}")]
    UnknownCoin(String),
    #[error("set_rank needs a rank of 1 or more")]
    ZeroRank,
    #[error("{0} is a built-in coin, which is always listed")]
    AlwaysListed(String),
    #[error("advance_churn_epochs needs churn, but churn_epoch_secs is 0")]
    NoChurn,
}
