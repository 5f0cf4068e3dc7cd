//! Test support: a private Redis plus the API served on a port-0 listener, called with reqwest;
//! the test deployment's API keys (one per role) and HS256 JWT secret; and price records written
//! the way the price worker writes them (`PriceCache::write`).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use coinbeat_api::{ServeError, auth::api_key::sha256_hex};
use coinbeat_shared::{
    Settings,
    cache::{PriceCache, PriceRecord},
    domain::{CoinId, Symbol},
    keys::Keys,
    redis_conn,
    settings::{ApiKeyEntry, JwtSettings, PricesSettings, Role, Secret},
    testing::TestRedis,
};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;

/// The test deployment's keys, one per role (configured by [`Api::start_with`] before the
/// test's own adjustments, so a test can take them away).
pub const READ_KEY: &str = "cbk_1111111111111111111111111111111111111111111111111111111111111111";
pub const ENQUEUE_KEY: &str =
    "cbk_2222222222222222222222222222222222222222222222222222222222222222";
pub const ADMIN_KEY: &str = "cbk_3333333333333333333333333333333333333333333333333333333333333333";
/// The HS256 secret of the test deployment's `[api.auth.jwt]`.
pub const JWT_SECRET: &str = "test-hs256-secret-that-is-32-bytes-or-more";
/// The `iss` and `aud` the test deployment's tokens must carry.
pub const JWT_ISSUER: &str = "https://idp.example";
pub const JWT_AUDIENCE: &str = "coinbeat";

/// The keys and JWT settings every test API starts with.
pub fn test_auth(settings: &mut Settings) {
    settings.api.keys = [
        (Role::Read, READ_KEY),
        (Role::Enqueue, ENQUEUE_KEY),
        (Role::Admin, ADMIN_KEY),
    ]
    .into_iter()
    .map(|(role, key)| ApiKeyEntry {
        role,
        sha256: sha256_hex(key),
    })
    .collect();
    settings.api.auth.jwt = Some(JwtSettings {
        secret: Some(Secret::new(JWT_SECRET)),
        issuer: Some(JWT_ISSUER.into()),
        audience: Some(JWT_AUDIENCE.into()),
        ..JwtSettings::default()
    });
}

/// A running API and the Redis behind it; both stop on drop.
pub struct Api {
    pub redis: TestRedis,
    pub settings: Settings,
    pub base: String,
    pub http: reqwest::Client,
    pub shutdown: CancellationToken,
    pub server: Option<JoinHandle<Result<(), ServeError>>>,
}

impl Api {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts Redis, lets the test adjust the settings, then serves the API.
    pub async fn start_with(adjust: impl FnOnce(&mut Settings)) -> Self {
        let redis = TestRedis::start();
        let mut settings = redis.settings();
        test_auth(&mut settings);
        adjust(&mut settings);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(coinbeat_api::serve(
            settings.clone(),
            listener,
            shutdown.clone(),
        ));
        Self {
            redis,
            settings,
            base,
            http: reqwest::Client::new(),
            shutdown,
            server: Some(server),
        }
    }

    /// Stops the server and serves the API again on a new port against the same Redis, as a
    /// redeployed API process.
    pub async fn restart_server(&mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task")
                .expect("server stops cleanly");
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        self.base = format!("http://{}", listener.local_addr().unwrap());
        self.shutdown = CancellationToken::new();
        self.server = Some(tokio::spawn(coinbeat_api::serve(
            self.settings.clone(),
            listener,
            self.shutdown.clone(),
        )));
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The price cache of this deployment, on its own connection (as a worker has).
    pub async fn cache(&self) -> PriceCache {
        let conn = redis_conn::connect(&self.settings.redis)
            .await
            .expect("connect to test redis");
        PriceCache::new(
            conn,
            Keys::new(self.settings.redis.key_prefix.clone()),
            &self.settings.prices,
        )
    }

    /// Writes records through the cache, as the price worker does.
    pub async fn write(&self, records: &[PriceRecord]) {
        let outcome = self
            .cache()
            .await
            .write(records)
            .await
            .expect("write prices");
        assert_eq!(outcome.written, records.len(), "every record is new");
    }

    /// `GET path` as a caller with the `read` role (the operational reads need it; the market
    /// reads are the same with or without it while reads are public).
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.get_as(path, Some(READ_KEY)).await
    }

    /// `GET path` with `token`, or with no token at all.
    pub async fn get_as(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut request = self.http.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        json(request.send().await.expect("GET")).await
    }

    /// `POST path` with `body`, as a caller with the `enqueue` role.
    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(ENQUEUE_KEY)
            .json(body)
            .send()
            .await
            .expect("POST")
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Status and JSON body; panics (with the body) when the body is not JSON.
pub async fn json(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("read body");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{status}: body is not JSON ({e}): {text:?}"));
    (status, body)
}

/// Asserts the one error shape: `{"error": {"code": code, "message": "<non-empty>"}}`.
pub fn assert_error(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "error without a message: {body}");
}

/// The coin id a worker would write `symbol`'s record under: the built-in `[prices.coins]`
/// id, else `{symbol}-coin` in lower case (a coin only its id names).
pub fn coin_of(symbol: &str) -> CoinId {
    let symbol = Symbol::parse(symbol).unwrap();
    PricesSettings::default().coin(&symbol).unwrap_or_else(|| {
        CoinId::parse(&format!("{}-coin", symbol.as_str().to_lowercase())).unwrap()
    })
}

/// A record as a worker would write it, with every optional field set.
pub fn record(symbol: &str, usd: &str, fetched_at: DateTime<Utc>) -> PriceRecord {
    PriceRecord {
        symbol: Symbol::parse(symbol).unwrap().to_string(),
        coin_id: coin_of(symbol),
        usd: usd.parse().unwrap(),
        change_24h_pct: Some("-1.250".parse().unwrap()),
        market_cap_usd: Some("1325847389123.5".parse().unwrap()),
        volume_24h_usd: Some("28734987.0012".parse().unwrap()),
        upstream_updated_at: Some(fetched_at - chrono::Duration::seconds(30)),
        fetched_at,
        source: "coingecko".into(),
    }
}

/// How many `HGET` calls the test Redis has served so far (`INFO commandstats`).
pub async fn hget_calls(api: &Api) -> u64 {
    command_calls(api, "hget").await
}

/// How many calls of `command` (lowercase) the test Redis has served so far.
pub async fn command_calls(api: &Api, command: &str) -> u64 {
    let conn = redis_conn::connect(&api.settings.redis).await.unwrap();
    coinbeat_shared::testing::command_calls(&conn, command).await
}

/// Waits until `GET path` is answered from the copy: no `HGET` reaches Redis for it.
pub async fn wait_served_from_copy(api: &Api, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let before = hget_calls(api).await;
        let (status, body) = api.get(path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if hget_calls(api).await == before {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{path} never served from the copy"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
