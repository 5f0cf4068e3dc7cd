//! The workspace the manifests must agree with: its components (`coinbeat::component`), where
//! they are built, and running one with a manifest's arguments and environment.

use crate::manifests::Image;

use std::{
    collections::{BTreeMap, BTreeSet},
    os::unix::process::CommandExt,
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

/// Every binary the image must hold: `coinbeat` and a link to it per component.
pub fn binaries() -> &'static BTreeSet<String> {
    static BINS: OnceLock<BTreeSet<String>> = OnceLock::new();
    BINS.get_or_init(|| {
        coinbeat::component::Component::all()
            .map(|c| c.name().to_owned())
            .chain(["coinbeat".to_owned()])
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

/// The command the image runs for `name`: the built binary of that name, or, for a symlink in
/// the image, the binary it points to, started under `name` (as `argv[0]`) just as the link
/// starts it.
pub fn command(image: &Image, name: &str) -> Command {
    match image.links.get(name) {
        Some(target) => {
            let mut command = Command::new(binary(target));
            command.arg0(name);
            command
        }
        None => Command::new(binary(name)),
    }
}

/// Runs `binary` as the image would ([`command`]) with `args` and exactly `env` (plus nothing
/// of ours), and returns why it failed, if it did.
pub fn run(
    image: &Image,
    binary: &str,
    args: &[String],
    env: &BTreeMap<String, String>,
) -> Result<(), String> {
    let file = image.links.get(binary).map_or(binary, String::as_str);
    let path = self::binary(file);
    if !path.exists() {
        return Err(format!(
            "{binary} is a component but is not built in {} \
             (run the whole suite: `cargo test --workspace`, which builds every binary)",
            bin_dir().display()
        ));
    }
    let out = command(image, binary)
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
