//! `coinbeat keys new`: a new key is printed once with the settings lines that configure it,
//! and those lines, pasted into a settings file, make the key work against a real API (and only
//! with its role).

use std::process::Command;

use coinbeat_api::auth::api_key::sha256_hex;
use coinbeat_shared::{Settings, testing::TestRedis};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

fn keys_new(role: &str, json: bool) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_coinbeat"));
    command.args(["keys", "new", "--role", role]);
    if json {
        command.arg("--json");
    }
    command.env_remove("COINBEAT_CONFIG").output().unwrap()
}

#[test]
fn keys_new_prints_the_key_once_and_only_its_hash_in_the_settings_lines() {
    let output = keys_new("admin", false);
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    let key = text
        .split_whitespace()
        .find(|w| w.starts_with("cbk_"))
        .unwrap_or_else(|| panic!("a key in {text}"));
    assert_eq!(key.len(), 4 + 64, "{key}");
    assert_eq!(
        text.matches(key).count(),
        1,
        "the key is shown once: {text}"
    );
    let hash = sha256_hex(key);
    assert!(
        text.contains(&format!(
            "[[api.keys]]\nrole = \"admin\"\nsha256 = \"{hash}\""
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "COINBEAT_API__KEYS='[{{role=\"admin\",sha256=\"{hash}\"}}]'"
        )),
        "{text}"
    );

    let again = keys_new("admin", false);
    assert!(
        !String::from_utf8(again.stdout).unwrap().contains(key),
        "every key is new"
    );

    let refused = keys_new("root", false);
    assert!(!refused.status.success());
    let stderr = String::from_utf8(refused.stderr).unwrap();
    assert!(stderr.contains("root"), "{stderr}");
}

#[tokio::test]
async fn a_key_configured_with_the_printed_toml_works_with_its_role_and_no_more() {
    let made = |role: &str| -> Value {
        let output = keys_new(role, true);
        assert!(output.status.success(), "{output:?}");
        serde_json::from_slice(&output.stdout).unwrap()
    };
    let (admin, read) = (made("admin"), made("read"));
    assert_eq!(admin["sha256"], sha256_hex(admin["key"].as_str().unwrap()));

    let redis = TestRedis::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("coinbeat.toml");
    std::fs::write(
        &file,
        format!(
            "{}\n{}\n",
            admin["toml"].as_str().unwrap(),
            read["toml"].as_str().unwrap()
        ),
    )
    .unwrap();
    let mut settings = Settings::load(Some(&file)).expect("the printed lines load");
    settings.redis = redis.settings().redis;
    assert_eq!(settings.api.keys.len(), 2);

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let _stop = shutdown.clone().drop_guard();
    tokio::spawn(coinbeat_api::serve(settings, listener, shutdown));
    let http = reqwest::Client::new();
    let purge = async |key: &str| {
        let mut request = http.post(format!("{base}/v1/admin/queues/prices/purge"));
        if !key.is_empty() {
            request = request.bearer_auth(key);
        }
        for _ in 0..100 {
            if let Ok(response) = request.try_clone().unwrap().send().await {
                return response.status().as_u16();
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the API never answered");
    };
    assert_eq!(purge(admin["key"].as_str().unwrap()).await, 200);
    assert_eq!(purge(read["key"].as_str().unwrap()).await, 403);
    assert_eq!(
        purge(admin["sha256"].as_str().unwrap()).await,
        401,
        "the hash is no key"
    );
    assert_eq!(purge("").await, 401);
}
