//! `coinbeat keys new --role <role>`: a new API key, printed once, with the settings lines that
//! configure it. Only the key's SHA-256 goes into the settings; the key itself is never stored.

use std::process::ExitCode;

use coinbeat_shared::api_keys::{ApiKey, settings_lines};
use serde_json::json;

use crate::{args::KeysCommand, output};

pub fn keys(command: KeysCommand) -> ExitCode {
    match command {
        KeysCommand::New { role, json } => {
            let key = ApiKey::generate();
            let entry = key.entry(role);
            let (toml, env) = settings_lines(&entry);
            if json {
                output::json(&json!({
                    "key": key.expose(),
                    "role": role,
                    "sha256": entry.sha256,
                    "toml": toml,
                    "env": env,
                }));
            } else {
                println!("A new API key with role {role}. It is shown only this once; keep it:");
                println!();
                println!("  {}", key.expose());
                println!();
                println!("Add its hash to the settings file (the key itself is never stored):");
                println!();
                println!("{toml}");
                println!();
                println!("or set it in the environment (this replaces the whole list of keys):");
                println!();
                println!("{env}");
                println!();
                println!(
                    "Callers send it as `Authorization: Bearer <key>`, e.g.\n  \
                     curl -H \"Authorization: Bearer $KEY\" http://127.0.0.1:8080/v1/queues"
                );
            }
            ExitCode::SUCCESS
        }
    }
}
