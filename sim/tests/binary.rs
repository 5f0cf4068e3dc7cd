//! The `coinbeat-sim` binary as a real process: it prints its base URL, serves, and exits cleanly on
//! SIGTERM.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

#[tokio::test]
async fn the_binary_prints_its_base_url_serves_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_coinbeat-sim"))
        .args(["--addr", "127.0.0.1:0", "--seed", "5", "--extra-coins", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().unwrap();
    let base_url = BufReader::new(stdout)
        .lines()
        .next_line()
        .await
        .unwrap()
        .expect("a base URL line");
    assert!(
        base_url.starts_with("http://127.0.0.1:") && base_url.ends_with("/api/v3"),
        "{base_url}"
    );

    let body = reqwest::get(format!(
        "{base_url}/simple/price?ids=sim-coin-00003&vs_currencies=usd"
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(body.starts_with(r#"{"sim-coin-00003":{"usd":"#), "{body}");

    let pid = child.id().unwrap().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = child.wait().await.unwrap();
    assert!(status.success(), "exit status {status}");
}
