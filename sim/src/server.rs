//! Running a simulator: in the background behind a [`SimHandle`] (tests, `coinbeat up --simulate`),
//! or in the foreground until a shutdown future resolves (the binary, an in-process child).

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::Provider;
use crate::state::{SimState, lock};
use crate::{
    ControlRequest, Faults, Served, SimConfig, SimError, Stats, alchemy, alphavantage, binance,
    coincap, coingecko, coinlore, control, etherscan,
};

/// Binds `config.addr` and serves in the background until [`SimHandle::stop`] or drop.
pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
    let state = Arc::new(SimState::new(&config)?);
    let listener = bind(config.addr).await?;
    let addr = local_addr(&listener, config.addr)?;
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async move {
        // A dropped sender stops the server too.
        let _ = stopped.await;
    };
    let task = tokio::spawn(serve_state(listener, Arc::clone(&state), shutdown));
    Ok(SimHandle {
        addr,
        state,
        stop: Some(stop),
        task: Some(task),
    })
}

/// Binds `config.addr` and serves until `shutdown` resolves, then finishes in-flight requests.
pub async fn run_until(
    config: SimConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), SimError> {
    let listener = bind(config.addr).await?;
    let addr = local_addr(&listener, config.addr)?;
    let root = root_url(addr);
    tracing::info!(
        base_url = %coingecko_base_url(addr),
        binance = %format!("{root}{}", binance::BASE_PATH),
        etherscan = %format!("{root}{}", etherscan::BASE_PATH),
        coinlore = %format!("{root}{}", coinlore::BASE_PATH),
        coincap = %format!("{root}{}", coincap::REST_BASE_PATH),
        alchemy = %format!("{root}{}", alchemy::BASE_PATH),
        alphavantage = %format!("{root}{}", alphavantage::BASE_PATH),
        "coinbeat-sim listening"
    );
    serve(listener, config, shutdown).await
}

/// Serves on a listener the caller bound (`config.addr` is not used) until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    config: SimConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), SimError> {
    let state = Arc::new(SimState::new(&config)?);
    serve_state(listener, state, shutdown).await
}

async fn serve_state(
    listener: TcpListener,
    state: Arc<SimState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), SimError> {
    let app = Router::new()
        .merge(coingecko::router(Arc::clone(&state)))
        .merge(etherscan::router(Arc::clone(&state)))
        .merge(binance::router(Arc::clone(&state)))
        .merge(coinlore::router(Arc::clone(&state)))
        .merge(coincap::router(Arc::clone(&state)))
        .merge(alchemy::router(Arc::clone(&state)))
        .merge(alphavantage::router(Arc::clone(&state)))
        .merge(control::router())
        .with_state(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(SimError::Serve)
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, SimError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| SimError::Bind { addr, source })
}

fn local_addr(listener: &TcpListener, asked: SocketAddr) -> Result<SocketAddr, SimError> {
    listener.local_addr().map_err(|source| SimError::Bind {
        addr: asked,
        source,
    })
}

/// A simulator serving in the background. Dropping it stops the server without waiting.
#[derive(Debug)]
pub struct SimHandle {
    addr: SocketAddr,
    state: Arc<SimState>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), SimError>>>,
}

impl SimHandle {
    /// The bound address (the real port when port 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT`, where the `/sim/` routes live.
    pub fn root_url(&self) -> String {
        root_url(self.addr)
    }

    /// `http://HOST:PORT/api/v3`: what a CoinGecko client uses as its base URL.
    pub fn base_url(&self) -> String {
        coingecko_base_url(self.addr)
    }

    /// `http://HOST:PORT/binance`: a Binance client's base URL (`{this}/api/v3/ticker/price`).
    pub fn binance_url(&self) -> String {
        format!("{}{}", root_url(self.addr), binance::BASE_PATH)
    }

    /// `ws://HOST:PORT/binance`: a Binance stream client's base URL
    /// (`{this}/stream?streams=btcusdt@aggTrade/…`), like `wss://stream.binance.com:9443`.
    pub fn binance_stream_url(&self) -> String {
        format!("ws://{}{}", self.addr, binance::BASE_PATH)
    }

    /// `ws://HOST:PORT/coincap`: a CoinCap stream client's base URL
    /// (`{this}/prices?assets=bitcoin,ethereum`), like `wss://wss.coincap.io`.
    pub fn coincap_stream_url(&self) -> String {
        format!("ws://{}{}", self.addr, coincap::BASE_PATH)
    }

    /// `http://HOST:PORT/coincap/v3`: a CoinCap REST client's base URL
    /// (`{this}/assets?ids=bitcoin`), like `https://rest.coincap.io/v3`.
    pub fn coincap_rest_url(&self) -> String {
        format!("{}{}", root_url(self.addr), coincap::REST_BASE_PATH)
    }

    /// `http://HOST:PORT/alchemy/prices/v1`: an Alchemy Prices client's base URL
    /// (`{this}/{apiKey}/tokens/by-symbol?symbols=BTC`), like
    /// `https://api.g.alchemy.com/prices/v1`.
    pub fn alchemy_url(&self) -> String {
        format!("{}{}", root_url(self.addr), alchemy::BASE_PATH)
    }

    /// `http://HOST:PORT/alphavantage`: an Alpha Vantage client's base URL
    /// (`{this}/query?function=CURRENCY_EXCHANGE_RATE&...`), like `https://www.alphavantage.co`.
    pub fn alphavantage_url(&self) -> String {
        format!("{}{}", root_url(self.addr), alphavantage::BASE_PATH)
    }

    /// The `5. Exchange Rate` text Alpha Vantage answers now for `from` → `to` (codes of
    /// [`crate::FIAT_CURRENCIES`], any case), without a request: nothing is counted or recorded.
    /// `None` for an unknown code.
    pub fn alphavantage_rate(&self, from: &str, to: &str) -> Option<String> {
        let (from, to) = (alphavantage::fiat(from)?, alphavantage::fiat(to)?);
        let (step, _) = self.state.market.step_now();
        Some(alphavantage::quote(self.state.seed, step, from, to).rate)
    }

    /// `http://HOST:PORT/api`: a CoinLore client's base URL (`{this}/tickers/`).
    pub fn coinlore_url(&self) -> String {
        format!("{}{}", root_url(self.addr), coinlore::BASE_PATH)
    }

    /// `http://HOST:PORT/etherscan`: an Etherscan client's base (its V2 endpoint is
    /// `{this}/v2/api`).
    pub fn etherscan_url(&self) -> String {
        format!("{}{}", root_url(self.addr), etherscan::BASE_PATH)
    }

    /// The counters, as `GET /sim/stats` shows them.
    pub fn stats(&self) -> Stats {
        lock(&self.state.stats).clone()
    }

    /// The last served prices, as `GET /sim/served` shows them.
    pub fn served(&self) -> Served {
        lock(&self.state.served).clone()
    }

    /// When each request of `provider` arrived (unix µs, oldest first), as `GET /sim/arrivals`
    /// shows them.
    pub fn arrivals(&self, provider: Provider) -> Vec<u64> {
        lock(&self.state.arrivals).of(provider)
    }

    /// The pairs Binance lists now, built-in coins first, then synthetic ones in catalogue order
    /// (one per ticker, with [`crate::StreamConfig::list_synthetic_on_binance`]): what a
    /// benchmark subscribes to.
    pub fn binance_pairs(&self) -> Vec<crate::BinancePair> {
        binance::listed(&self.state.market)
    }

    /// The faults in force.
    pub fn faults(&self) -> Faults {
        *lock(&self.state.faults)
    }

    /// Like `POST /sim/control`: changes faults (all or nothing) and returns those now in force.
    pub fn control(&self, change: &ControlRequest) -> Result<Faults, SimError> {
        self.state.control(change)
    }

    /// Like `POST /sim/reset`: zeroes the counters, the arrivals and the rate-limit windows.
    pub fn reset(&self) {
        self.state.reset();
    }

    /// Stops accepting connections, finishes in-flight requests and waits for the server to end.
    pub async fn stop(mut self) -> Result<(), SimError> {
        drop(self.stop.take());
        match self.task.take() {
            Some(task) => task
                .await
                .map_err(|e| SimError::Serve(std::io::Error::other(e)))?,
            None => Ok(()),
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn root_url(addr: SocketAddr) -> String {
    // A wildcard bind is reachable on loopback; its own address is not connectable.
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

fn coingecko_base_url(addr: SocketAddr) -> String {
    format!("{}{}", root_url(addr), coingecko::BASE_PATH)
}
