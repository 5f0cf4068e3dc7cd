//! Starting and stopping a simulator in-process: the handle, and `run_until` a shutdown future.

mod common;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::Duration;

use coinbeat_sim::SimConfig;
use common::{frozen_sim, get};
use tokio::sync::oneshot;

#[tokio::test]
async fn stopping_the_handle_closes_the_port() {
    let sim = frozen_sim(3).await;
    let addr = sim.addr();
    assert_eq!(get(&sim, "/ping", &[]).await.status(), 200);

    sim.stop().await.unwrap();

    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn run_until_serves_until_its_future_resolves() {
    let addr = free_port();
    let (stop, stopped) = oneshot::channel::<()>();
    let config = SimConfig {
        addr,
        ..SimConfig::default()
    };
    let running = tokio::spawn(coinbeat_sim::run_until(config, async {
        let _ = stopped.await;
    }));
    let ping = format!("http://{addr}/api/v3/ping");
    let mut answered = None;
    for _ in 0..50 {
        if let Ok(response) = reqwest::get(&ping).await {
            answered = Some(response.status());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    stop.send(()).unwrap();

    assert_eq!(answered, Some(reqwest::StatusCode::OK));
    running.await.unwrap().unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

/// A port that was free a moment ago; `run_until` takes an address, not a listener.
fn free_port() -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.local_addr().unwrap()
}
