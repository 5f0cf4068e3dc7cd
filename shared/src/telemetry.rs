//! One logging setup for every binary: `RUST_LOG` filter, pretty or JSON output.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt, layer::SubscriberExt, util::SubscriberInitExt};

use crate::settings::LogFormat;

/// Installs the global subscriber. `service` becomes the default filter target, so
/// `info` logs of the binary show without any `RUST_LOG`. Calling it twice is harmless.
pub fn init(service: &str, format: LogFormat) {
    let default = format!("info,{}=info", service.replace('-', "_"));
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Pretty => registry
            .with(
                fmt::layer()
                    .with_target(false)
                    .with_ansi(std::io::stdout().is_terminal()),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true),
            )
            .try_init(),
    };
}
