//! Repository hygiene, checked on the real tree: every Rust file opens with a `//!` saying what
//! it is for, and ARCHITECTURE.md has a place for every crate and every top-level folder (so the
//! code map cannot silently fall behind the layout).

use std::path::{Path, PathBuf};

/// The repository's root (the workspace holding this crate).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the cli crate sits in the workspace")
        .to_path_buf()
}

/// Folders no check looks into: build output and hidden ones (`.git`, `.ci`, a private
/// `.coinbeat` data folder).
fn skipped(name: &str) -> bool {
    name == "target" || name.starts_with('.')
}

/// Every `.rs` file under `dir` whose first line is not a `//!` comment.
fn without_module_doc(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if !skipped(&name) {
                    stack.push(path);
                }
            } else if name.ends_with(".rs") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                if !text.trim_start().starts_with("//!") {
                    found.push(path);
                }
            }
        }
    }
    found.sort();
    found
}

/// The top-level folders and workspace crates that `architecture` (the text of ARCHITECTURE.md)
/// never names: a folder as `` `name/` ``, a crate as `` `crate-name` ``.
fn unmapped(root: &Path, architecture: &str) -> Vec<String> {
    let mut missing = Vec::new();
    let mut folders: Vec<String> = std::fs::read_dir(root)
        .expect("the repository's root")
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| !skipped(name))
        .collect();
    folders.sort();
    for folder in folders {
        if !architecture.contains(&format!("`{folder}/")) {
            missing.push(format!("folder {folder}/"));
        }
        let manifest = root.join(&folder).join("Cargo.toml");
        let Ok(toml) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let name = toml
            .lines()
            .find_map(|line| {
                let value = line.trim().strip_prefix("name")?.trim().strip_prefix('=')?;
                Some(value.trim().trim_matches('"').to_owned())
            })
            .unwrap_or_else(|| panic!("{} names its crate", manifest.display()));
        if !architecture.contains(&format!("`{name}`")) {
            missing.push(format!("crate {name}"));
        }
    }
    missing
}

#[test]
fn every_rust_file_says_what_it_is_for() {
    let missing = without_module_doc(&root());
    assert!(
        missing.is_empty(),
        "these files do not open with a `//!` comment: {missing:#?}"
    );
}

#[test]
fn architecture_maps_every_crate_and_top_level_folder() {
    let root = root();
    let architecture =
        std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let missing = unmapped(&root, &architecture);
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's code map does not name: {missing:?}"
    );
}

#[test]
fn the_checks_catch_an_undocumented_file_folder_and_crate() {
    let tree = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let path = tree.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("good/Cargo.toml", "[package]\nname = \"good-crate\"\n");
    write("good/src/lib.rs", "//! Good.\n");
    write("good/src/bare.rs", "use std::fmt;\n");
    write("newcomer/Cargo.toml", "[package]\nname = \"newcomer\"\n");
    write(
        "newcomer/src/main.rs",
        "\n//! Says what it is.\nfn main() {}\n",
    );
    write("target/debug/build.rs", "fn main() {}\n");
    write("docs/readme.txt", "");

    let bare = without_module_doc(tree.path());
    let unmapped = unmapped(
        tree.path(),
        "### `good/` (crate `good-crate`)\n### `newcomer/`\n",
    );

    assert_eq!(bare, [tree.path().join("good/src/bare.rs")]);
    assert_eq!(unmapped, ["folder docs/", "crate newcomer"]);
}
