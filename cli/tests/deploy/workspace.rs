//! The workspace the manifests must agree with: its binaries (from `cargo metadata`), where
//! they are built, and running one with a manifest's arguments and environment.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::OnceLock,
};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("cli/ has a parent")
        .to_owned()
}

/// Every binary target of the workspace's packages.
pub fn binaries() -> &'static BTreeSet<String> {
    static BINS: OnceLock<BTreeSet<String>> = OnceLock::new();
    BINS.get_or_init(|| {
        let out = Command::new(env!("CARGO"))
            .args([
                "metadata",
                "--no-deps",
                "--format-version",
                "1",
                "--offline",
            ])
            .current_dir(root())
            .output()
            .expect("cargo metadata runs");
        assert!(
            out.status.success(),
            "cargo metadata: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
        meta["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
            .filter(|t| {
                t["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "bin"))
            })
            .map(|t| t["name"].as_str().expect("a target name").to_owned())
            .collect()
    })
}

/// Where `cargo test` put the workspace's binaries (beside this package's own).
fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_coinbeat"))
        .parent()
        .expect("the binary has a folder")
        .to_owned()
}

/// The built binary called `name`.
pub fn binary(name: &str) -> PathBuf {
    bin_dir().join(name)
}

/// Runs the built `binary` with `args` and exactly `env` (plus nothing of ours), as the
/// container would, and returns why it failed, if it did.
pub fn run(binary: &str, args: &[String], env: &BTreeMap<String, String>) -> Result<(), String> {
    let path = self::binary(binary);
    if !path.exists() {
        return Err(format!(
            "{binary} is a workspace binary but is not built in {} \
             (run the whole suite: `cargo test --workspace`, which builds every binary)",
            bin_dir().display()
        ));
    }
    let out = Command::new(&path)
        .args(args)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running {binary}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{binary} {}` exited with {}: {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
