//! The OpenAPI document (`GET /openapi.json`) against the running system, `coinbeat up
//! --simulate` with its admin key, checked with the tools a client's author would use:
//!
//! - schemathesis, every route and every check: no request the document allows is refused as
//!   invalid, none it forbids is accepted, every answer (status, headers, body) is one the
//!   document declares, no 5xx; unpaced, at the speed schemathesis goes (the admin key's
//!   requests count against the key's own rate, its unauthenticated probes against the
//!   address's, so each gets the 401 the document promises rather than a 429);
//! - a Python client generated from the document by openapi-python-client reads prices and
//!   enqueues a task through its typed models.
//!
//! Both tools come from `.ci/openapi-tools` (pinned, into `target/openapi-tools`), which the
//! tests run themselves when the tools are missing.

mod common;

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    time::Duration,
};

use serde_json::Value;
use tokio::sync::Mutex;

use common::{Up, free_port, get, local_admin_key, up_simulate, wait_for};

/// One `coinbeat up` at a time: two whole systems and schemathesis at once are too much for a
/// two-core machine.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// Examples schemathesis draws per operation in its random phases (its coverage phase tries
/// every parameter and body field at and past its bounds whatever this is): few enough to check
/// every route in a couple of minutes on two cores.
const MAX_EXAMPLES: &str = "5";

/// The virtualenv's `bin` with the tools: `.ci/openapi-tools` installs them (pinned, from PyPI)
/// the first time, so `cargo test --workspace` needs only Python 3 with `venv`; a failure says
/// how to get them by hand.
fn tools() -> PathBuf {
    static TOOLS: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    TOOLS
        .get_or_init(|| {
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
            let venv = std::env::var_os("COINBEAT_OPENAPI_TOOLS")
                .map(|dir| root.join(dir))
                .unwrap_or_else(|| root.join("target/openapi-tools"));
            let bin = venv.join("bin");
            let tools = ["st", "openapi-python-client", "python"];
            if !tools.iter().all(|tool| bin.join(tool).exists()) {
                let status = std::process::Command::new("bash")
                    .arg(root.join(".ci/openapi-tools"))
                    .env("COINBEAT_OPENAPI_TOOLS", &venv)
                    .status()
                    .expect("bash runs");
                assert!(
                    status.success(),
                    "`bash .ci/openapi-tools` failed ({status}): it needs Python 3 with venv \
                     (Debian: apt-get install python3-venv) and PyPI"
                );
            }
            for tool in tools {
                assert!(
                    bin.join(tool).exists(),
                    "{} is missing: run `bash .ci/openapi-tools` at the repository's root (it \
                     installs schemathesis and openapi-python-client, pinned, into \
                     target/openapi-tools; or set COINBEAT_OPENAPI_TOOLS to a virtualenv that \
                     has them)",
                    bin.join(tool).display()
                );
            }
            bin
        })
        .clone()
}

/// `coinbeat up --simulate` with the tracked prices cached; its API's base URL and admin key.
async fn up_with_prices(data: &Path) -> (Up, String, String) {
    let (api_port, sim_port) = (free_port(), free_port());
    let up = up_simulate(data, api_port, sim_port, &[]);
    let api = format!("http://127.0.0.1:{api_port}");
    let http = reqwest::Client::new();
    wait_for("12 cached prices", Duration::from_secs(60), async || {
        let (status, body) = get(&http, &format!("{api}/v1/prices")).await;
        let prices = body["prices"].as_array().map_or(0, Vec::len);
        (status == 200 && prices == 12).then_some(())
    })
    .await;
    let key = local_admin_key(data);
    (up, api, key)
}

fn run(command: &mut Command) -> (Output, String) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output, text)
}

#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_no_failure_on_any_route_with_every_check() {
    let bin = tools();
    let _one = ONE_AT_A_TIME.lock().await;
    let data = tempfile::tempdir().unwrap();
    let (_up, api, key) = up_with_prices(data.path()).await;
    let report = data.path().join("junit.xml");

    let (output, text) = run(Command::new(bin.join("st"))
        // Its cache of what it found (`.schemathesis/`) goes with the run, not into the tree.
        .current_dir(data.path())
        .arg("run")
        .arg(format!("{api}/openapi.json"))
        .args(["--checks", "all"])
        .args(["--header", &format!("Authorization: Bearer {key}")])
        .args(["--max-examples", MAX_EXAMPLES])
        .args(["--seed", "20"])
        .args(["--request-timeout", "10"])
        .args(["--report", "junit", "--report-junit-path"])
        .arg(&report)
        .env("NO_COLOR", "1"));

    // Every route was exercised, and nothing failed.
    let junit = std::fs::read_to_string(&report).unwrap_or_default();
    let operations = junit.matches("<testcase").count();
    let endpoints = coinbeat_api::routes::endpoints().len();
    assert_eq!(operations, endpoints, "operations tested:\n{text}");
    assert!(
        output.status.success(),
        "schemathesis found failures:\n{text}"
    );
    assert!(!junit.contains("<failure"), "{junit}");
    assert!(!junit.contains("<error"), "{junit}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_python_client_generated_from_the_document_reads_prices_and_enqueues_a_task() {
    let bin = tools();
    let _one = ONE_AT_A_TIME.lock().await;
    let data = tempfile::tempdir().unwrap();
    let (_up, api, key) = up_with_prices(data.path()).await;
    let document: Value = reqwest::get(format!("{api}/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = data.path().join("openapi.json");
    std::fs::write(&path, serde_json::to_vec(&document).unwrap()).unwrap();

    let client = data.path().join("client");
    // The generator formats what it writes with the ruff it brought along.
    let path_var = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let (output, text) = run(Command::new(bin.join("openapi-python-client"))
        .env("PATH", path_var)
        .arg("generate")
        .arg("--path")
        .arg(&path)
        .args(["--meta", "none", "--output-path"])
        .arg(&client));
    assert!(output.status.success(), "generation failed:\n{text}");
    // Nothing of the document was left out of the client.
    assert!(!text.contains("Warning"), "{text}");

    let script = data.path().join("use_client.py");
    std::fs::write(&script, CLIENT_SCRIPT).unwrap();
    let (output, text) = run(Command::new(bin.join("python"))
        .arg(&script)
        .arg(&api)
        .arg(&key)
        .env("PYTHONPATH", data.path()));
    assert!(output.status.success(), "the client script failed:\n{text}");
    assert!(text.contains("prices: BTC ETH"), "{text}");
    assert!(text.contains("task: prices pending"), "{text}");
}

/// Reads two prices with the generated client's typed models (exact decimal strings, fresh),
/// enqueues a forced prices task and reads it back by its id.
const CLIENT_SCRIPT: &str = r#"
import sys
from decimal import Decimal

from client import AuthenticatedClient
from client.api.v1 import get_prices, get_tasks_id, post_tasks
from client.models import Accepted, PriceList, PricesJob, PricesTask, PricesTaskKind, TaskView

api, key = sys.argv[1], sys.argv[2]
with AuthenticatedClient(base_url=api, token=key) as client:
    prices = get_prices.sync(client=client, symbols="BTC,eth")
    assert isinstance(prices, PriceList), prices
    assert [p.symbol for p in prices.prices] == ["BTC", "ETH"], prices
    assert all(Decimal(p.usd) > 0 for p in prices.prices), prices
    assert prices.missing == [], prices
    print("prices:", " ".join(p.symbol for p in prices.prices))

    body = PricesTask(kind=PricesTaskKind.PRICES, args=PricesJob(symbols=["BTC"]), force=True)
    answer = post_tasks.sync_detailed(client=client, body=body)
    assert answer.status_code in (200, 202), answer
    accepted = answer.parsed
    assert isinstance(accepted, Accepted), accepted
    task = get_tasks_id.sync(client=client, id=accepted.id)
    assert isinstance(task, TaskView), task
    assert task.id == accepted.id, (task, accepted)
    print("task:", task.queue, accepted.status)
"#;
