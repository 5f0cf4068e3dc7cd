//! `HistoryStore`: the connection pool to PostgreSQL, the migrations, and the small numbers
//! coins and sources are stored by.
//!
//! The pool connects lazily: a process starts whether or not PostgreSQL is up, and each call
//! fails (transient) while it is down. The migrations in `history/migrations/` are embedded in
//! the binary and applied by [`HistoryStore::migrate`], once per process, before the first
//! write ([`HistoryStore::ready`]); sqlx records them in `_sqlx_migrations` and takes an
//! advisory lock, so replicas starting together apply each once.

use std::{
    collections::{HashMap, HashSet},
    str::FromStr,
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{DateTime, Datelike, Utc};
use coinbeat_shared::settings::HistorySettings;
use sqlx::{
    PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
};
use tokio::sync::OnceCell;

use crate::HistoryError;

/// PostgreSQL's code for a relation that does not exist.
const UNDEFINED_TABLE: &str = "42P01";

/// A read's answer, with "the tables do not exist yet" (no history worker has started, so
/// nothing was migrated) read as "nothing stored".
pub(crate) fn none_if_unmigrated<T>(
    read: Result<Option<T>, sqlx::Error>,
) -> Result<Option<T>, HistoryError> {
    match read {
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(UNDEFINED_TABLE) => Ok(None),
        other => Ok(other?),
    }
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The history in PostgreSQL. Cheap to clone; clones share the pool and the id caches.
#[derive(Debug, Clone)]
pub struct HistoryStore {
    pool: PgPool,
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    migrated: OnceCell<()>,
    /// Coin id → its number in `coins`; never changes once given.
    coins: Mutex<HashMap<String, i32>>,
    /// Source name → its number in `sources`.
    sources: Mutex<HashMap<String, i16>>,
    /// Months (year * 12 + month) whose partition exists.
    months: Mutex<HashSet<i32>>,
}

/// How to reach PostgreSQL.
#[derive(Debug, Clone)]
pub struct Connect<'a> {
    /// `postgres://user:password@host:port/database`.
    pub url: &'a str,
    /// Connections the pool may open.
    pub max_connections: u32,
    /// How long a call waits for a connection before failing (transient).
    pub timeout: Duration,
}

impl HistoryStore {
    /// A store whose pool connects on first use. Fails only on a URL that does not parse.
    pub fn connect_lazy(connect: &Connect<'_>) -> Result<Self, HistoryError> {
        if !["postgres://", "postgresql://"]
            .iter()
            .any(|scheme| connect.url.starts_with(scheme))
        {
            return Err(HistoryError::Invalid(
                "DATABASE_URL must be a postgres:// or postgresql:// URL".into(),
            ));
        }
        let options = PgConnectOptions::from_str(connect.url)
            .map_err(|e| HistoryError::Invalid(format!("DATABASE_URL does not parse: {e}")))?
            .application_name("coinbeat");
        let pool = PgPoolOptions::new()
            .max_connections(connect.max_connections.max(1))
            .acquire_timeout(connect.timeout)
            .connect_lazy_with(options);
        Ok(Self {
            pool,
            inner: Arc::default(),
        })
    }

    /// The store `settings` name; `None` when history storage is off (no database URL).
    pub fn from_settings(settings: &HistorySettings) -> Result<Option<Self>, HistoryError> {
        let Some(url) = settings.database_url.as_ref().filter(|_| settings.is_on()) else {
            return Ok(None);
        };
        Self::connect_lazy(&Connect {
            url: url.expose().trim(),
            max_connections: settings.max_connections,
            timeout: settings.timeout(),
        })
        .map(Some)
    }

    /// The pool, for queries of the crate's own modules.
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies the migrations not applied yet.
    pub async fn migrate(&self) -> Result<(), HistoryError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// Migrated, once per process: the first call applies the migrations, later ones return
    /// at once. A failure (PostgreSQL down) is returned and the next call tries again.
    pub async fn ready(&self) -> Result<(), HistoryError> {
        self.inner
            .migrated
            .get_or_try_init(|| self.migrate())
            .await
            .map(|_| ())
    }

    /// Whether PostgreSQL answers now.
    pub async fn ping(&self) -> Result<(), HistoryError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool's connections (at shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The numbers of `coin_ids` in `coins`, adding the coins not there yet.
    pub(crate) async fn coin_numbers(
        &self,
        coin_ids: &[&str],
    ) -> Result<HashMap<String, i32>, HistoryError> {
        let mut found = HashMap::new();
        let mut missing = Vec::new();
        {
            let known = self.inner.coins.lock().expect("coin cache");
            for id in coin_ids {
                match known.get(*id) {
                    Some(n) => {
                        found.insert((*id).to_owned(), *n);
                    }
                    None => missing.push((*id).to_owned()),
                }
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        missing.sort();
        missing.dedup();
        sqlx::query(
            "INSERT INTO coins (coin_id) SELECT unnest($1::text[]) ON CONFLICT (coin_id) DO NOTHING",
        )
        .bind(&missing)
        .execute(&self.pool)
        .await?;
        let rows: Vec<(i32, String)> =
            sqlx::query_as("SELECT id, coin_id FROM coins WHERE coin_id = ANY($1)")
                .bind(&missing)
                .fetch_all(&self.pool)
                .await?;
        let mut known = self.inner.coins.lock().expect("coin cache");
        for (n, id) in rows {
            known.insert(id.clone(), n);
            found.insert(id, n);
        }
        Ok(found)
    }

    /// The number of a coin already in `coins`, if it is.
    pub(crate) async fn coin_number(&self, coin_id: &str) -> Result<Option<i32>, HistoryError> {
        if let Some(n) = self.inner.coins.lock().expect("coin cache").get(coin_id) {
            return Ok(Some(*n));
        }
        let n: Option<i32> = none_if_unmigrated(
            sqlx::query_scalar("SELECT id FROM coins WHERE coin_id = $1")
                .bind(coin_id)
                .fetch_optional(&self.pool)
                .await,
        )?;
        if let Some(n) = n {
            let mut known = self.inner.coins.lock().expect("coin cache");
            known.insert(coin_id.to_owned(), n);
        }
        Ok(n)
    }

    /// The number of a source, adding it if new.
    pub(crate) async fn source_number(&self, name: &str) -> Result<i16, HistoryError> {
        if let Some(n) = self.inner.sources.lock().expect("source cache").get(name) {
            return Ok(*n);
        }
        sqlx::query("INSERT INTO sources (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .execute(&self.pool)
            .await?;
        let n: i16 = sqlx::query_scalar("SELECT id FROM sources WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        let mut known = self.inner.sources.lock().expect("source cache");
        known.insert(name.to_owned(), n);
        Ok(n)
    }

    /// Makes sure the month partitions of every instant in `times` exist.
    pub(crate) async fn ensure_months(
        &self,
        times: impl IntoIterator<Item = DateTime<Utc>>,
    ) -> Result<(), HistoryError> {
        let mut wanted: Vec<(i32, DateTime<Utc>)> = Vec::new();
        {
            let known = self.inner.months.lock().expect("month cache");
            for at in times {
                let month = at.year() * 12 + at.month0() as i32;
                if !known.contains(&month) && !wanted.iter().any(|(m, _)| *m == month) {
                    wanted.push((month, at));
                }
            }
        }
        for (month, at) in wanted {
            sqlx::query("SELECT coinbeat_ensure_month($1)")
                .bind(at)
                .execute(&self.pool)
                .await?;
            self.inner.months.lock().expect("month cache").insert(month);
        }
        Ok(())
    }
}
