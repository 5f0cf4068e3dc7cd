//! The dashboard in a real browser: Debian's chromium, headless, driven through chromedriver
//! (WebDriver) against `coinbeat up --simulate`, the real binary. A user signs in with a read
//! key and then an admin key, sees the queues, retries a dead task, finds it by a piece of its
//! arguments, pauses and resumes a schedule and a queue, and watches a price change arrive on
//! the board. Every page is
//! photographed on the way (`target/tmp/dashboard-screenshots/`; with
//! `UPDATE_SCREENSHOTS=1`, also the README's copies in `docs/screenshots/`), and
//! before each photograph no resource the page loaded may come from another origin.
//!
//! Needs `chromium` and `chromedriver` (Debian: `chromium`, `chromium-driver`), which
//! `.ci/run` installs.

mod common;

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    str::FromStr,
    time::Duration,
};

use chrono::Utc;
use coinbeat_shared::{
    api_keys::{ApiKey, env_value},
    cache::{PriceCache, PriceRecord},
    domain::CoinId,
    keys::Keys,
    settings::{PricesSettings, RedisSettings, Role, Secret},
};
use fantoccini::{Client, ClientBuilder, Locator};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use common::{free_port, get_with, local_admin_key, private_redis_url, up_simulate, wait_for};

const WALLET: &str = "0x7e5f4552091a69125d5dfcb7b8c2659029395bdf";
const PATIENCE: Duration = Duration::from_secs(20);

/// chromedriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    async fn start() -> Self {
        let port = free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is not installed (Debian: apt-get install chromium-driver)");
        let url = format!("http://127.0.0.1:{port}");
        wait_for("chromedriver to listen", PATIENCE, async || {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .ok()
        })
        .await;
        Driver { child, url }
    }

    async fn browser(&self) -> Client {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium(),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1400,900"],
            }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("a chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chromium() -> &'static str {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|path| Path::new(path).exists())
        .expect("chromium is not installed (Debian: apt-get install chromium)")
}

/// Waits for `css` to match an element and returns its text.
async fn text_of(browser: &Client, css: &str) -> String {
    let element = browser
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"));
    element.text().await.unwrap()
}

async fn click(browser: &Client, css: &str) {
    browser
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
}

async fn count(browser: &Client, css: &str) -> usize {
    browser.find_all(Locator::Css(css)).await.unwrap().len()
}

async fn sign_in(browser: &Client, token: &str, role: &str) {
    if count(browser, "#sign-out:not([hidden])").await > 0 {
        click(browser, "#sign-out").await;
    }
    click(browser, "#sign-in-open").await;
    let field = browser.find(Locator::Css("#token")).await.unwrap();
    field.send_keys(token).await.unwrap();
    click(browser, "#sign-in-submit").await;
    wait_for("the role to show", PATIENCE, async || {
        let who = browser.find(Locator::Css("#who")).await.ok()?;
        who.text()
            .await
            .ok()?
            .ends_with(&format!("· {role}"))
            .then_some(())
    })
    .await;
}

async fn visit(browser: &Client, api: &str, hash: &str) {
    browser.goto(&format!("{api}/ui{hash}")).await.unwrap();
}

/// Saves what the browser shows as `<name>.png`, after checking that nothing the page loaded
/// came from another origin than `api`.
async fn photograph(browser: &Client, api: &str, name: &str) {
    let resources = browser
        .execute(
            "return performance.getEntriesByType('resource').map(e => e.name)",
            vec![],
        )
        .await
        .unwrap();
    for url in resources.as_array().unwrap() {
        let url = url.as_str().unwrap();
        assert!(url.starts_with(&format!("{api}/")), "{name} loaded {url}");
    }
    let png = browser.screenshot().await.unwrap();
    let mut dirs = vec![PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots")];
    if std::env::var_os("UPDATE_SCREENSHOTS").is_some() {
        dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots"));
    }
    for dir in dirs {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), &png).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_in_a_real_browser() {
    let driver = Driver::start().await;
    let data = tempfile::tempdir().unwrap();
    let (api_port, sim_port) = (free_port(), free_port());
    let api = format!("http://127.0.0.1:{api_port}");
    let sim = format!("http://127.0.0.1:{sim_port}");
    let read_key = ApiKey::generate();
    let keys = env_value(&[read_key.entry(Role::Read)]);
    let _up = up_simulate(
        data.path(),
        api_port,
        sim_port,
        &[
            ("COINBEAT_API__KEYS", keys.as_str()),
            // A failed wallet analysis is dead at once, so the test has a dead letter to retry.
            ("COINBEAT_QUEUES__OVERRIDES__WALLET__MAX_RETRIES", "0"),
        ],
    );
    let http = reqwest::Client::new();
    wait_for("the API", Duration::from_secs(60), async || {
        (get_with(&http, &format!("{api}/readyz"), None).await.0 == 200).then_some(())
    })
    .await;
    let admin = local_admin_key(data.path());
    let read = read_key.expose().to_owned();

    // The page and its assets are same-origin only, by policy.
    let page = http.get(format!("{api}/ui")).send().await.unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }

    let browser = driver.browser().await;

    // 1. Without a token: the market pages only, and a way to sign in.
    visit(&browser, &api, "#/").await;
    assert!(
        text_of(&browser, "main .notice").await.contains("Sign in"),
        "the overview needs a read key"
    );
    assert_eq!(text_of(&browser, "#who").await, "not signed in");

    // 2. A read key sees the queues, but no control: no dead letters, no pause, no run.
    sign_in(&browser, &read, "read").await;
    visit(&browser, &api, "#/").await;
    text_of(&browser, "tr[data-queue='prices']").await;
    assert_eq!(count(&browser, "#nav a[data-nav='#/dead']").await, 0);
    visit(&browser, &api, "#/schedules").await;
    text_of(&browser, "tr[data-entry]").await;
    assert_eq!(
        count(&browser, "[data-pause], [data-resume], [data-run]").await,
        0
    );
    visit(&browser, &api, "#/queues/prices").await;
    text_of(&browser, ".stats .stat").await;
    assert_eq!(count(&browser, "#queue-pause, #queue-resume").await, 0);
    // ... and the API refuses those calls from it.
    let (_, schedules) = get_with(&http, &format!("{api}/v1/schedules"), Some(&admin)).await;
    let entry = schedules["schedules"][0]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    for path in [
        format!("/v1/admin/schedules/{entry}/pause"),
        format!("/v1/admin/schedules/{entry}/run"),
        "/v1/admin/queues/prices/pause".to_owned(),
        "/v1/admin/queues/prices/purge".to_owned(),
        "/v1/admin/queues/wallet/dead/retry".to_owned(),
    ] {
        let response = http
            .post(format!("{api}{path}"))
            .bearer_auth(&read)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 403, "{path}");
    }

    // 3. An admin key: the queues, live.
    sign_in(&browser, &admin, "admin").await;
    visit(&browser, &api, "#/").await;
    for queue in ["prices", "market", "wallet", "health", "cleanup"] {
        text_of(&browser, &format!("tr[data-queue='{queue}']")).await;
    }
    photograph(&browser, &api, "overview").await;

    // 4. A dead task, retried from its dead letters.
    let control = async |body: Value| {
        let response = http
            .post(format!("{sim}/sim/control"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    };
    control(json!({"provider": "etherscan", "down": true})).await;
    let answer: Value = http
        .post(format!("{api}/v1/wallets/{WALLET}/analyze"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = answer["id"].as_str().expect("a task id").to_owned();
    let task_url = format!("{api}/v1/tasks/{id}");
    wait_for("the analysis to die", Duration::from_secs(30), async || {
        let (_, task) = get_with(&http, &task_url, Some(&admin)).await;
        (task["status"] == "dead").then_some(())
    })
    .await;
    control(json!({"provider": "etherscan", "down": false})).await;
    visit(&browser, &api, "#/dead/wallet").await;
    text_of(&browser, &format!("[data-retry='{id}']")).await;
    photograph(&browser, &api, "dead-letters").await;
    click(&browser, &format!("[data-retry='{id}']")).await;
    wait_for(
        "the retried analysis to be done",
        Duration::from_secs(30),
        async || {
            let (_, task) = get_with(&http, &task_url, Some(&admin)).await;
            (task["status"] == "done").then_some(())
        },
    )
    .await;
    visit(&browser, &api, &format!("#/tasks/{id}")).await;
    wait_for("the task page to say done", PATIENCE, async || {
        let facts = browser.find(Locator::Css("dl.facts")).await.ok()?;
        facts.text().await.ok()?.contains("done").then_some(())
    })
    .await;
    photograph(&browser, &api, "task").await;

    // 5. The same task, found by a piece of its arguments (the address, in capitals).
    visit(&browser, &api, "#/search").await;
    let field = browser
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css("#search-args"))
        .await
        .unwrap();
    field.send_keys("7E5F4552091A").await.unwrap();
    click(&browser, "#search-submit").await;
    text_of(&browser, &format!("main table a[href='#/tasks/{id}']")).await;
    assert!(
        text_of(&browser, "#search-summary")
            .await
            .starts_with("1 found")
    );
    photograph(&browser, &api, "search").await;

    // 6. A schedule entry paused and resumed from the schedules page.
    let paused = async |want: bool| {
        wait_for("the entry's pause to be stored", PATIENCE, async || {
            let (_, body) = get_with(&http, &format!("{api}/v1/schedules"), Some(&admin)).await;
            let entries = body["schedules"].as_array()?;
            let found = entries.iter().find(|s| s["name"] == entry.as_str())?;
            (found["paused"] == want).then_some(())
        })
        .await
    };
    visit(&browser, &api, "#/schedules").await;
    click(&browser, &format!("[data-pause='{entry}']")).await;
    paused(true).await;
    text_of(&browser, &format!("[data-resume='{entry}']")).await;
    photograph(&browser, &api, "schedules").await;
    click(&browser, &format!("[data-resume='{entry}']")).await;
    paused(false).await;

    // 7. A queue paused and resumed from its page.
    let queue_paused = async |want: bool| {
        wait_for("the queue's pause to be stored", PATIENCE, async || {
            let (_, body) = get_with(&http, &format!("{api}/v1/queues"), Some(&admin)).await;
            let queues = body["queues"].as_array()?;
            let found = queues.iter().find(|q| q["queue"] == "cleanup")?;
            (found["paused"] == want).then_some(())
        })
        .await
    };
    visit(&browser, &api, "#/queues/cleanup").await;
    click(&browser, "#queue-pause").await;
    queue_paused(true).await;
    // 7b. While no worker fetches, a waiting task deleted from its page.
    let answer: Value = http
        .post(format!("{api}/v1/tasks"))
        .bearer_auth(&admin)
        .json(&json!({"kind": "cleanup"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let waiting = answer["id"].as_str().expect("a task id").to_owned();
    visit(&browser, &api, &format!("#/tasks/{waiting}")).await;
    click(&browser, "#task-delete").await;
    browser.accept_alert().await.unwrap();
    wait_for("the waiting task to be deleted", PATIENCE, async || {
        let url = format!("{api}/v1/tasks/{waiting}");
        (get_with(&http, &url, Some(&admin)).await.0 == 404).then_some(())
    })
    .await;
    visit(&browser, &api, "#/queues/cleanup").await;
    click(&browser, "#queue-resume").await;
    queue_paused(false).await;
    visit(&browser, &api, "#/queues/prices").await;
    click(&browser, "[data-state='done']").await;
    text_of(&browser, "main table tbody tr td a").await;
    photograph(&browser, &api, "queue").await;

    // 8. A price change arrives on the live board.
    visit(&browser, &api, "#/prices").await;
    text_of(&browser, "tr[data-coin='bitcoin'] td.price").await;
    wait_for("the board to go live", PATIENCE, async || {
        let state = browser.find(Locator::Css("h1 .live")).await.ok()?;
        (state.text().await.ok()? == "live").then_some(())
    })
    .await;
    let redis = RedisSettings {
        url: Secret::new(private_redis_url(data.path())),
        key_prefix: "coinbeat".into(),
        ..RedisSettings::default()
    };
    let conn = coinbeat_shared::redis_conn::connect(&redis).await.unwrap();
    let defaults = PricesSettings::default();
    let cache = PriceCache::new(conn, Keys::new("coinbeat"), &defaults);
    let bitcoin = CoinId::parse("bitcoin").unwrap();
    let current = cache.get(&bitcoin).await.unwrap().unwrap();
    // Of a moment a minute ahead (`as_of` is the earlier of the upstream's time and the
    // fetch), so no trade streamed or price fetched meanwhile replaces it before it is seen.
    let ahead = Utc::now() + chrono::Duration::seconds(60);
    let moved = PriceRecord {
        usd: Decimal::from_str("12345.6789").unwrap(),
        upstream_updated_at: Some(ahead),
        fetched_at: ahead,
        ..current
    };
    assert_eq!(cache.write(&[moved]).await.unwrap().written, 1);
    wait_for(
        "the change on the board",
        Duration::from_secs(5),
        async || {
            let cell = browser
                .find(Locator::Css("tr[data-coin='bitcoin'] td.price"))
                .await
                .ok()?;
            (cell.attr("data-price").await.ok()?? == "12345.6789").then_some(())
        },
    )
    .await;
    photograph(&browser, &api, "prices").await;

    // 9. The upstreams: each limit's use, live. CoinGecko's month window (`30/min,
    // 10000/month`) holds every price fetch of this run, so it shows permits in use, and it
    // grows while the page is open, as a refresh of the prices fetches again.
    visit(&browser, &api, "#/upstreams").await;
    let month = "tr[data-provider='coingecko'] .window-use[data-window='10,000/month'] meter";
    let used = async || -> Option<u64> {
        let meter = browser.find(Locator::Css(month)).await.ok()?;
        assert_eq!(meter.attr("max").await.ok()??, "10000");
        meter.attr("value").await.ok()??.parse().ok()
    };
    let first = wait_for("CoinGecko's permits in use", PATIENCE, async || {
        used().await.filter(|n| *n > 0)
    })
    .await;
    let refresh = http
        .post(format!("{api}/v1/admin/prices/refresh"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(refresh.status().as_u16(), 202);
    wait_for("more permits in use, live", PATIENCE, async || {
        used().await.filter(|n| *n > first)
    })
    .await;
    text_of(&browser, "main section table tbody tr td").await;
    photograph(&browser, &api, "upstreams").await;

    // 10. The remaining pages, photographed.
    visit(&browser, &api, "#/workers").await;
    text_of(&browser, "main table tbody tr").await;
    photograph(&browser, &api, "workers").await;
    // The wallet analysed above, looked up.
    visit(&browser, &api, "#/wallets").await;
    let field = browser
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css("#wallet-address"))
        .await
        .unwrap();
    field.send_keys(WALLET).await.unwrap();
    click(&browser, "main form button[type='submit']").await;
    assert!(
        text_of(&browser, "main table tbody tr")
            .await
            .contains("ETH")
    );
    photograph(&browser, &api, "wallets").await;

    browser.close().await.unwrap();
}
