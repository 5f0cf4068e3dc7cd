//! One price alert: a coin, a condition on its USD price, and the webhook to tell.

use std::{fmt, str::FromStr};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::target::WebhookUrl;
use crate::domain::CoinId;

/// Largest threshold an alert may name, in USD: far past any coin's price, small enough that
/// the exact checks of a crossing never overflow a decimal.
/// 10^15 (a test pins it).
pub const MAX_THRESHOLD_USD: Decimal = Decimal::from_parts(0xa4c6_8000, 0x3_8d7e, 0, false, 0);
/// Largest percentage a `move` alert may name.
pub const MAX_MOVE_PERCENT: u32 = 1_000;
/// Smallest percentage a `move` alert may name, in tenths of a percent: a smaller one would
/// fire on the noise of every tick.
pub const MIN_MOVE_PERMILLE: u32 = 1;
/// The shortest and longest window of a `move` alert. The reference is the window's oldest
/// history point, and exchange streams add one every `streams.history_every_secs` (5 minutes),
/// so a window shorter than 15 minutes would often hold none (and fire never).
pub const MOVE_WINDOW_SECS: std::ops::RangeInclusive<u64> = 900..=7 * 24 * 3_600;
/// The longest cooldown an alert may ask for: a week.
pub const MAX_COOLDOWN_SECS: u64 = 7 * 24 * 3_600;

/// An alert's id: a ULID, as a task's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AlertId(ulid::Ulid);

/// The string is not an alert id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an alert id (26 characters of Crockford base32, as returned on creation)")]
pub struct AlertIdError(pub String);

impl AlertId {
    pub fn generate() -> Self {
        Self(ulid::Ulid::generate())
    }

    pub fn parse(input: &str) -> Result<Self, AlertIdError> {
        ulid::Ulid::from_string(input)
            .map(Self)
            .map_err(|_| AlertIdError(input.to_owned()))
    }
}

impl FromStr for AlertId {
    type Err = AlertIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for AlertId {
    type Error = AlertIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<AlertId> for String {
    fn from(id: AlertId) -> Self {
        id.0.to_string()
    }
}

impl fmt::Display for AlertId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Which way a `move` alert watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Up,
    Down,
    /// Either way.
    #[default]
    Any,
}

/// When an alert fires. Each fires on a crossing, once: a price that stays past a threshold
/// fires nothing more until it has gone back and crossed again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Condition {
    /// The price rises to `usd` or past it: the previous price was below `usd`, the new one is
    /// at least `usd`.
    Above {
        #[cfg_attr(feature = "openapi", schema(value_type = String, example = "100000"))]
        usd: Decimal,
    },
    /// The price falls to `usd` or under it: the previous price was above `usd`, the new one
    /// is at most `usd`.
    Below {
        #[cfg_attr(feature = "openapi", schema(value_type = String, example = "50000"))]
        usd: Decimal,
    },
    /// The price moves by `percent` or more against its price `window_secs` ago (the oldest
    /// history point within the window), when the previous price had not.
    Move {
        #[cfg_attr(feature = "openapi", schema(value_type = String, example = "5"))]
        percent: Decimal,
        window_secs: u64,
        #[serde(default)]
        direction: Direction,
    },
}

/// Why a condition is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConditionError {
    #[error("usd must be greater than 0 and at most {MAX_THRESHOLD_USD}")]
    Threshold,
    #[error("percent must be at least 0.1 and at most {MAX_MOVE_PERCENT}")]
    Percent,
    #[error("window_secs must be from {} to {} (a week)", MOVE_WINDOW_SECS.start(), MOVE_WINDOW_SECS.end())]
    Window,
}

impl Condition {
    /// Checks what the types alone do not.
    pub fn check(&self) -> Result<(), ConditionError> {
        match self {
            Condition::Above { usd } | Condition::Below { usd } => {
                if *usd <= Decimal::ZERO || *usd > MAX_THRESHOLD_USD {
                    return Err(ConditionError::Threshold);
                }
            }
            Condition::Move {
                percent,
                window_secs,
                ..
            } => {
                if *percent < Decimal::new(i64::from(MIN_MOVE_PERMILLE), 1)
                    || *percent > Decimal::from(MAX_MOVE_PERCENT)
                {
                    return Err(ConditionError::Percent);
                }
                if !MOVE_WINDOW_SECS.contains(window_secs) {
                    return Err(ConditionError::Window);
                }
            }
        }
        Ok(())
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Condition::Above { .. } => "above",
            Condition::Below { .. } => "below",
            Condition::Move { .. } => "move",
        }
    }
}

/// An alert as stored, with the secret its deliveries are signed with (never in its `Debug`).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredAlert {
    pub id: AlertId,
    /// Who created it (`auth::Caller::id`): the only caller who may see or delete it.
    pub owner: String,
    pub coin: CoinId,
    pub condition: Condition,
    pub webhook_url: WebhookUrl,
    /// Crossings on prices fetched less than this many seconds from one the alert fired on
    /// (before or after it) are held back (`super::evaluate`): a price that flaps around a
    /// threshold fires once per cooldown, not on every tick. 0 (the default, and what alerts stored
    /// before it existed read as): every crossing fires.
    #[serde(default)]
    pub cooldown_secs: u64,
    /// The HMAC-SHA256 key of its deliveries (`whsec_` and 64 hex digits), shown once, on
    /// creation.
    pub secret: String,
    pub created_at: DateTime<Utc>,
}

impl fmt::Debug for StoredAlert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredAlert")
            .field("id", &self.id)
            .field("owner", &self.owner)
            .field("coin", &self.coin)
            .field("condition", &self.condition)
            .field("webhook_url", &self.webhook_url.host())
            .field("cooldown_secs", &self.cooldown_secs)
            .field("secret", &"<redacted>")
            .field("created_at", &self.created_at)
            .finish()
    }
}

impl StoredAlert {
    /// A new alert with a fresh id and signing secret, and no cooldown.
    pub fn new(owner: String, coin: CoinId, condition: Condition, webhook_url: WebhookUrl) -> Self {
        Self {
            id: AlertId::generate(),
            owner,
            coin,
            condition,
            webhook_url,
            cooldown_secs: 0,
            secret: super::signature::new_secret(),
            created_at: Utc::now(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_threshold_is_ten_to_the_fifteenth() {
        assert_eq!(MAX_THRESHOLD_USD, Decimal::from(1_000_000_000_000_000u64));
    }

    #[test]
    fn conditions_read_as_the_api_documents_them_and_are_checked() {
        let above: Condition = serde_json::from_str(r#"{"kind":"above","usd":"70000.5"}"#).unwrap();
        assert_eq!(
            above,
            Condition::Above {
                usd: "70000.5".parse().unwrap()
            }
        );
        let mv: Condition =
            serde_json::from_str(r#"{"kind":"move","percent":"5","window_secs":3600}"#).unwrap();
        assert_eq!(
            mv,
            Condition::Move {
                percent: Decimal::from(5),
                window_secs: 3600,
                direction: Direction::Any
            }
        );
        assert!(serde_json::from_str::<Condition>(r#"{"kind":"above","usd":"1","x":1}"#).is_err());
        assert_eq!(
            Condition::Below { usd: Decimal::ZERO }.check(),
            Err(ConditionError::Threshold)
        );
        assert_eq!(
            Condition::Move {
                percent: Decimal::from(5),
                window_secs: 600,
                direction: Direction::Up
            }
            .check(),
            Err(ConditionError::Window)
        );
        assert!(above.check().is_ok() && mv.check().is_ok());
    }

    #[test]
    fn alert_ids_parse_back() {
        let id = AlertId::generate();
        assert_eq!(AlertId::parse(&id.to_string()), Ok(id));
        assert!(AlertId::parse("nope").is_err());
    }
}
