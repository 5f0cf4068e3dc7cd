//! Why a history operation failed, and whether trying again can help.

/// A history operation's failure.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// PostgreSQL could not be reached, or failed the statement.
    #[error("postgresql: {0}")]
    Database(#[from] sqlx::Error),
    /// The migrations in the repository could not be applied.
    #[error("applying the history migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A value PostgreSQL cannot hold (a time outside its range, a coin id too long).
    #[error("{0}")]
    Invalid(String),
}

impl HistoryError {
    /// Whether the same call may succeed later: PostgreSQL down, restarting, out of
    /// connections, or a serialisation conflict. A statement PostgreSQL refuses for its content
    /// (a constraint, a type) fails the same way every time.
    pub fn is_transient(&self) -> bool {
        match self {
            HistoryError::Database(e) => match e {
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
                | sqlx::Error::Protocol(_) => true,
                sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                    // 08: connection exception; 40: transaction rollback (serialisation,
                    // deadlock); 53: insufficient resources; 57: operator intervention
                    // (shutdown, restart); 58: system error.
                    ["08", "40", "53", "57", "58"]
                        .iter()
                        .any(|class| code.starts_with(class))
                }),
                _ => false,
            },
            HistoryError::Migrate(_) => true,
            HistoryError::Invalid(_) => false,
        }
    }
}
