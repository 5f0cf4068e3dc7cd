//! A private PostgreSQL database per test, on the server the machine runs (`127.0.0.1:5432`,
//! user `postgres`; `TEST_DATABASE_URL` names another server's maintenance database). Each
//! test gets a database of its own, created empty and dropped when the [`TestPostgres`] is.

use std::time::Duration;

use sqlx::{Connection, PgConnection};

use crate::{Connect, HistoryStore};

/// The maintenance database the test databases are created from.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database of its own, dropped (with its connections) on drop.
#[derive(Debug)]
pub struct TestPostgres {
    name: String,
    url: String,
}

impl TestPostgres {
    /// Creates an empty database. Panics when PostgreSQL cannot be reached: the tests need it
    /// (`.ci/run` makes sure one runs).
    pub async fn start() -> Self {
        let name = format!("coinbeat_test_{:016x}", rand::random::<u64>());
        let admin = admin_url();
        let mut conn = PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {admin}: {e} (the history tests need it)"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        let _ = conn.close().await;
        let (base, _) = admin.rsplit_once('/').expect("a URL with a database");
        let url = format!("{base}/{name}");
        Self { name, url }
    }

    /// `postgres://…/coinbeat_test_…`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A store on this database.
    pub fn store(&self) -> HistoryStore {
        HistoryStore::connect_lazy(&Connect {
            url: &self.url,
            max_connections: 4,
            timeout: Duration::from_secs(10),
        })
        .unwrap()
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop may run inside a runtime: a thread of its own with its own runtime.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut conn = PgConnection::connect(&admin_url()).await.ok()?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await
                    .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("could not drop the test database {}", self.name);
        }
    }
}
