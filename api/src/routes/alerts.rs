//! `POST /v1/alerts`, `GET /v1/alerts`, `GET /v1/alerts/{id}`, `DELETE /v1/alerts/{id}`: a
//! caller's price alerts (`coinbeat_shared::alerts`). An alert belongs to the credential that
//! made it (`Caller::id`); no other caller can see it or delete it, and to them it does not
//! exist (404, never 403).
//!
//! Everything is checked here, before anything is stored: the condition (a decimal string in
//! range, a window of a minute to a week), the webhook URL (http or https, no credentials), the
//! coin (named as `GET /v1/prices/{coin}` names it), and where the webhook's host points: an
//! internal address (loopback, private, link-local, ...) is refused unless
//! `alerts.allow_private_targets` is set. A host that does not resolve is 404, as a coin no one
//! knows is: the request is well formed but names nothing that exists (and the document's
//! schema cannot say which names resolve, so it must not be a 422 the schema promised away).

use std::time::Duration;

use axum::{
    Extension, Json,
    extract::{Path, State, rejection::PathRejection},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use coinbeat_shared::{
    alerts::{
        AlertId, Condition, Direction, StoredAlert, TargetError, WebhookUrl,
        alert::{MAX_COOLDOWN_SECS, MAX_MOVE_PERCENT, MAX_THRESHOLD_USD, MOVE_WINDOW_SECS},
        target::MAX_URL_LEN,
    },
    domain::CoinId,
    openapi::ULID_PATTERN,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{
    PartialSchema, ToSchema,
    openapi::{
        RefOr,
        schema::{
            AdditionalProperties, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, SchemaType,
            Type,
        },
    },
};

use crate::{ApiError, AppState, JsonBody, auth::Caller, routes::prices};

/// How long the webhook's host may take to resolve before the alert is refused as unresolved.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest decimal string a condition takes: 28 digits and a point, all a `Decimal` holds
/// exactly.
pub const MAX_DECIMAL_CHARS: usize = 29;

/// The body of `POST /v1/alerts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAlert {
    /// A coin id or a symbol, as `GET /v1/prices/{coin}` takes it.
    coin: String,
    /// Read by [`parse_condition`], so a bad one is answered as `invalid_condition`.
    condition: Value,
    webhook_url: String,
    /// Read by [`parse_cooldown`], so a bad one is answered as `invalid_cooldown`.
    #[serde(default)]
    cooldown_secs: Value,
}

/// A condition as a request writes it: decimals as strings, read by [`plain_decimal`].
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ConditionRequest {
    Above {
        usd: String,
    },
    Below {
        usd: String,
    },
    Move {
        percent: String,
        /// A JSON number with no fraction: `3600`, and also `3600.0`, which JSON Schema's
        /// `integer` allows.
        window_secs: serde_json::Number,
        #[serde(default)]
        direction: Direction,
    },
}

/// An alert as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertView {
    #[schema(schema_with = alert_id_schema)]
    id: AlertId,
    /// The coin's id (a symbol asked for is stored as the coin it named).
    coin: CoinId,
    condition: Condition,
    #[schema(schema_with = webhook_url_schema)]
    webhook_url: String,
    /// Crossings on prices fetched less than this many seconds from one the alert fired on
    /// are held back; 0: every crossing fires.
    cooldown_secs: u64,
    created_at: DateTime<Utc>,
    /// The key of the HMAC-SHA256 signature each delivery carries (`Coinbeat-Signature`):
    /// only in the answer to `POST /v1/alerts`, the one time it is shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, pattern = "^whsec_[0-9a-f]{64}$")]
    secret: Option<String>,
}

impl AlertView {
    /// The alert without its secret.
    pub(crate) fn of(alert: StoredAlert) -> Self {
        Self {
            id: alert.id,
            coin: alert.coin,
            condition: alert.condition,
            webhook_url: alert.webhook_url.to_string(),
            cooldown_secs: alert.cooldown_secs,
            created_at: alert.created_at,
            secret: None,
        }
    }
}

/// What `GET /v1/alerts` answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertList {
    /// The caller's alerts, oldest first.
    alerts: Vec<AlertView>,
}

/// `POST /v1/alerts`: 201 with the alert, its secret (shown this once) and a `Location`
/// header; 422 for a bad condition, cooldown or webhook URL, or a webhook pointing at an
/// internal address; 404 for an unknown coin or a host that does not resolve; 409 `too_many_alerts` at
/// `alerts.max_per_key`.
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    JsonBody(request): JsonBody<CreateAlert>,
) -> Result<Response, ApiError> {
    let owner = owner(&caller)?;
    // `auth::Caller::id` of a JWT without `sub`: a hash of the token itself.
    if owner.starts_with("jwt:#") {
        return Err(ApiError::NoLastingOwner);
    }
    let condition = parse_condition(request.condition)?;
    let cooldown_secs = parse_cooldown(&request.cooldown_secs)?;
    let webhook_url = parse_webhook_url(&request.webhook_url)?;
    let coin = alert_coin(&state, &request.coin).await?;
    let settings = &state.settings().alerts;
    resolve(&webhook_url, settings.allow_private_targets).await?;
    let alert = StoredAlert {
        cooldown_secs,
        ..StoredAlert::new(owner.to_owned(), coin, condition, webhook_url)
    };
    state
        .redis(state.alerts().create(&alert, settings.max_per_key))
        .await?;
    let location = format!("/v1/alerts/{}", alert.id);
    let secret = alert.secret.clone();
    let view = AlertView {
        secret: Some(secret),
        ..AlertView::of(alert)
    };
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(view),
    )
        .into_response())
}

/// `GET /v1/alerts`: the caller's alerts, oldest first, without their secrets.
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<AlertList>, ApiError> {
    let owner = owner(&caller)?;
    let alerts = state.redis(state.alerts().list(owner)).await?;
    Ok(Json(AlertList {
        alerts: alerts.into_iter().map(AlertView::of).collect(),
    }))
}

/// `GET /v1/alerts/{id}`: one of the caller's alerts; 404 `alert_not_found` for an id that is
/// not (whether or not someone else has it), 422 `invalid_alert_id` for one that is no ULID.
pub async fn get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<AlertView>, ApiError> {
    let owner = owner(&caller)?;
    let id = alert_id(id)?;
    match state.redis(state.alerts().get(&id)).await? {
        Some(alert) if alert.owner == owner => Ok(Json(AlertView::of(alert))),
        _ => Err(ApiError::AlertNotFound(id)),
    }
}

/// `DELETE /v1/alerts/{id}`: 204; 404 `alert_not_found` as for `GET`.
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let owner = owner(&caller)?;
    let id = alert_id(id)?;
    if state.redis(state.alerts().delete(owner, &id)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::AlertNotFound(id))
    }
}

/// Who owns the caller's alerts. The routes need the `enqueue` role, so every caller that gets
/// here has a credential.
fn owner(caller: &Caller) -> Result<&str, ApiError> {
    caller.id.as_deref().ok_or(ApiError::Unauthenticated {
        need: coinbeat_shared::settings::Role::Enqueue,
    })
}

/// The `{id}` of an alert's path: 400 for a path that does not fit, 422 `invalid_alert_id`
/// for one that is no ULID.
pub(crate) fn alert_id(id: Result<Path<String>, PathRejection>) -> Result<AlertId, ApiError> {
    let Path(raw) = id.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    Ok(AlertId::parse(&raw)?)
}

/// The condition of a request, checked: decimals as plain decimal strings, each value in range.
fn parse_condition(json: Value) -> Result<Condition, ApiError> {
    let invalid = |message: String| ApiError::InvalidCondition(message);
    let request: ConditionRequest =
        serde_json::from_value(json).map_err(|e| invalid(e.to_string()))?;
    let condition = match request {
        ConditionRequest::Above { usd } => Condition::Above {
            usd: plain_decimal("usd", &usd).map_err(invalid)?,
        },
        ConditionRequest::Below { usd } => Condition::Below {
            usd: plain_decimal("usd", &usd).map_err(invalid)?,
        },
        ConditionRequest::Move {
            percent,
            window_secs,
            direction,
        } => Condition::Move {
            percent: plain_decimal("percent", &percent).map_err(invalid)?,
            window_secs: whole_seconds(&window_secs).ok_or_else(|| {
                invalid(format!(
                    "window_secs must be a whole number of seconds, got {window_secs}"
                ))
            })?,
            direction,
        },
    };
    condition.check().map_err(|e| invalid(e.to_string()))?;
    Ok(condition)
}

/// The cooldown of a request: whole seconds from 0 to [`MAX_COOLDOWN_SECS`]; none (or `null`)
/// is 0.
fn parse_cooldown(json: &Value) -> Result<u64, ApiError> {
    let secs = match json {
        Value::Null => return Ok(0),
        Value::Number(number) => whole_seconds(number),
        _ => None,
    };
    secs.filter(|secs| *secs <= MAX_COOLDOWN_SECS)
        .ok_or_else(|| {
            ApiError::InvalidCooldown(format!(
                "cooldown_secs must be a whole number of seconds from 0 to {MAX_COOLDOWN_SECS} (a \
             week), got {json}"
            ))
        })
}

/// A JSON number without a fraction as seconds (one too large for a `u64` saturates, and is
/// then out of any window's range).
fn whole_seconds(number: &serde_json::Number) -> Option<u64> {
    number.as_u64().or_else(|| {
        number
            .as_f64()
            .filter(|f| *f >= 0.0 && f.fract() == 0.0)
            .map(|f| f as u64)
    })
}

/// A decimal written plainly: `0` or a whole number without leading zeros, then optionally a
/// point and at least one digit; at most [`MAX_DECIMAL_CHARS`] characters, so it is held
/// exactly. (No sign, exponent or separators: the document's pattern says the same.)
fn plain_decimal(field: &str, text: &str) -> Result<Decimal, String> {
    let refused = || {
        format!(
            "{field} must be a decimal string such as \"70000\" or \"0.25\" (digits, at most \
             one point, no sign or exponent, at most {MAX_DECIMAL_CHARS} characters), got {text:?}"
        )
    };
    if text.len() > MAX_DECIMAL_CHARS {
        return Err(refused());
    }
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole)
        || (whole.len() > 1 && whole.starts_with('0'))
        || fraction.is_some_and(|f| !digits(f))
    {
        return Err(refused());
    }
    text.parse::<Decimal>().map_err(|_| refused())
}

/// The webhook URL of a request: a URI of printable ASCII (no spaces, no characters a URI
/// never holds) that [`WebhookUrl::parse`] accepts.
fn parse_webhook_url(text: &str) -> Result<WebhookUrl, ApiError> {
    let invalid = |why: &str| ApiError::Webhook(TargetError::Invalid(why.to_owned()));
    let bytes = text.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        let allowed = b.is_ascii_graphic() && !b"\"<>\\^`{|}".contains(b);
        if !allowed {
            return Err(invalid(
                "it holds a space, a control character or a character a URI never holds \
                 (percent-encode it)",
            ));
        }
        if *b == b'%'
            && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
        {
            return Err(invalid("a `%` must be followed by two hex digits"));
        }
    }
    // Before `WebhookUrl::parse`, which would name any other scheme it found.
    let scheme = text.split_once("://").map(|(scheme, _)| scheme);
    if !scheme.is_some_and(|s| s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https")) {
        return Err(invalid("it must start with http:// or https://"));
    }
    WebhookUrl::parse(text).map_err(ApiError::Webhook)
}

/// The coin `raw` names, resolved as `GET /v1/prices/{coin}` resolves it: a catalogued or
/// configured coin, or an id that something is cached under (prices are written for it, so
/// the alert can fire); 404 `unknown_coin` otherwise.
async fn alert_coin(state: &AppState, raw: &str) -> Result<CoinId, ApiError> {
    let named = prices::named(state, raw).await?;
    if named.known || state.redis(state.cache().get(&named.id)).await?.is_some() {
        Ok(named.id)
    } else {
        Err(ApiError::UnknownCoin(raw.trim().to_owned()))
    }
}

/// Where the webhook's host points, checked against the deny list unless `allow_private`.
async fn resolve(url: &WebhookUrl, allow_private: bool) -> Result<(), ApiError> {
    match tokio::time::timeout(RESOLVE_TIMEOUT, url.resolve(allow_private)).await {
        Ok(Ok(_addresses)) => Ok(()),
        Ok(Err(e)) => Err(ApiError::Webhook(e)),
        Err(_elapsed) => Err(ApiError::Webhook(TargetError::Unresolved {
            host: url.host(),
            reason: format!("no answer within {} s", RESOLVE_TIMEOUT.as_secs()),
        })),
    }
}

/// An alert id: a ULID, as a task's.
pub fn alert_id_schema() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(ULID_PATTERN))
        .min_length(Some(26))
        .max_length(Some(26))
        .description(Some("An alert id: a ULID (26 Crockford base-32 digits)."))
        .examples(["01JDQ8ZQ3X9V4M6T2R5N7K8P0A"])
        .into()
}

fn webhook_url_schema() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::Custom("uri".into())))
        .pattern(Some("^[Hh][Tt][Tt][Pp][Ss]?://"))
        .max_length(Some(MAX_URL_LEN))
        .description(Some(
            "Where deliveries are POSTed: an http or https URL without a user name or password. \
             Its host must resolve (404 otherwise), and to no internal address (loopback, \
             private, link-local, carrier-grade NAT, unique local, multicast, ...: 422 \
             `webhook_target_refused`) unless the deployment sets \
             `alerts.allow_private_targets`.",
        ))
        .examples(["https://hooks.example.com/coinbeat"])
        .into()
}

/// The pattern of a decimal string from 0 (excluded) to `max`, a power of ten, that
/// [`plain_decimal`] reads: what the document promises is exactly what is accepted.
fn positive_up_to(max: &str) -> String {
    debug_assert!(max.starts_with('1') && max[1..].bytes().all(|b| b == b'0'));
    let below = max.len() - 2;
    format!("^([1-9][0-9]{{0,{below}}}(\\.[0-9]+)?|{max}(\\.0+)?|0\\.[0-9]*[1-9][0-9]*)$")
}

/// [`positive_up_to`] from 0.1 (included) instead of above 0: a `move`'s percent.
fn a_tenth_up_to(max: &str) -> String {
    positive_up_to(max).replace("0\\.[0-9]*[1-9][0-9]*", "0\\.[1-9][0-9]*")
}

fn decimal_schema(pattern: String, description: &str, example: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .min_length(Some(1))
        .max_length(Some(MAX_DECIMAL_CHARS))
        .description(Some(description))
        .examples([example])
}

/// The document's schema of [`ConditionRequest`]: one shape per kind.
impl PartialSchema for ConditionRequest {
    fn schema() -> RefOr<Schema> {
        let kind = |name: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([name.to_owned()]))
        };
        let usd = || {
            decimal_schema(
                positive_up_to(&MAX_THRESHOLD_USD.to_string()),
                "A USD price as a decimal string, above 0 and at most 10^15.",
                "70000",
            )
        };
        let threshold = |name: &str, description: &str| {
            ObjectBuilder::new()
                .property("kind", kind(name))
                .required("kind")
                .property("usd", usd())
                .required("usd")
                .additional_properties(Some(AdditionalProperties::FreeForm(false)))
                .title(Some(format!("{name}_condition")))
                .description(Some(description))
        };
        let window = ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(*MOVE_WINDOW_SECS.start() as f64))
            .maximum(Some(*MOVE_WINDOW_SECS.end() as f64))
            .description(Some(
                "The window, in seconds: 15 minutes (the streams add a history point every 5) \
                 to a week.",
            ))
            .examples([3600]);
        let moved = ObjectBuilder::new()
            .property("kind", kind("move"))
            .required("kind")
            .property(
                "percent",
                decimal_schema(
                    a_tenth_up_to(&MAX_MOVE_PERCENT.to_string()),
                    "The move, in percent, as a decimal string: at least 0.1 and at most 1000.",
                    "5",
                ),
            )
            .required("percent")
            .property("window_secs", window)
            .required("window_secs")
            .property(
                "direction",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["up", "down", "any"]))
                    .description(Some("Which way: `up`, `down`, or `any` (the default).")),
            )
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .title(Some("move_condition"))
            .description(Some(
                "Fires when the price has moved by `percent` or more against its price \
                 `window_secs` ago, and the price before had not.",
            ));
        OneOfBuilder::new()
            .item(threshold(
                "above",
                "Fires when the price rises to `usd` or past it.",
            ))
            .item(threshold(
                "below",
                "Fires when the price falls to `usd` or under it.",
            ))
            .item(moved)
            .description(Some(
                "When the alert fires: once per crossing, not again until the price has gone \
                 back and crossed again.",
            ))
            .into()
    }
}

impl ToSchema for ConditionRequest {}

/// The document's schema of [`CreateAlert`].
impl PartialSchema for CreateAlert {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .property("coin", prices::coin_schema())
            .required("coin")
            .property(
                "condition",
                RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                    ConditionRequest::name(),
                )),
            )
            .required("condition")
            .property("webhook_url", webhook_url_schema())
            .required("webhook_url")
            .property(
                "cooldown_secs",
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
                    .minimum(Some(0.0))
                    .maximum(Some(MAX_COOLDOWN_SECS as f64))
                    .description(Some(
                        "Crossings on prices fetched less than this many seconds from one \
                         the alert fired on are held back, so a price flapping around a \
                         threshold fires once per cooldown. 0 (the default): every \
                         crossing fires, as with none or `null`. At most a week.",
                    ))
                    .examples([300]),
            )
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .into()
    }
}

impl ToSchema for CreateAlert {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((
            ConditionRequest::name().into_owned(),
            ConditionRequest::schema(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_read_as_the_pattern_writes_them() {
        for ok in ["1", "70000", "0.5", "0.000001", "1000000000000000", "12.50"] {
            assert!(plain_decimal("usd", ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "01", "+1", "-1", "1e5", "1.", ".5", "1_000", " 1", "1,5", "0x10",
        ] {
            assert!(plain_decimal("usd", bad).is_err(), "{bad:?}");
        }
        assert!(plain_decimal("usd", &format!("0.{}", "1".repeat(28))).is_err());
        assert_eq!(
            positive_up_to("1000"),
            "^([1-9][0-9]{0,2}(\\.[0-9]+)?|1000(\\.0+)?|0\\.[0-9]*[1-9][0-9]*)$"
        );
        assert_eq!(MAX_THRESHOLD_USD.to_string(), "1000000000000000");
        assert_eq!(
            a_tenth_up_to("1000"),
            "^([1-9][0-9]{0,2}(\\.[0-9]+)?|1000(\\.0+)?|0\\.[1-9][0-9]*)$"
        );
    }

    #[test]
    fn conditions_out_of_range_or_not_strings_are_refused_with_the_reason() {
        let refused = |json: Value| match parse_condition(json) {
            Err(ApiError::InvalidCondition(message)) => message,
            other => panic!("{other:?}"),
        };
        assert!(refused(serde_json::json!({"kind": "above", "usd": "0"})).contains("usd"));
        assert!(refused(serde_json::json!({"kind": "above", "usd": 5})).contains("string"));
        assert!(refused(serde_json::json!({"kind": "sideways"})).contains("sideways"));
        let window = serde_json::json!({"kind": "move", "percent": "5", "window_secs": 10});
        assert!(refused(window).contains("window_secs"));
        let ok = serde_json::json!({"kind": "move", "percent": "5", "window_secs": 3600});
        assert!(parse_condition(ok).is_ok());
        // JSON Schema's `integer` is any number without a fraction.
        let whole = serde_json::json!({"kind": "move", "percent": "5", "window_secs": 3600.0});
        assert!(parse_condition(whole).is_ok());
        let fraction = serde_json::json!({"kind": "move", "percent": "5", "window_secs": 66.5});
        assert!(refused(fraction).contains("whole number"));
        let negative = serde_json::json!({"kind": "move", "percent": "5", "window_secs": -60});
        assert!(refused(negative).contains("whole number"));
        let tiny = serde_json::json!({"kind": "move", "percent": "0.09", "window_secs": 3600});
        assert!(refused(tiny).contains("at least 0.1"));
        let tenth = serde_json::json!({"kind": "move", "percent": "0.1", "window_secs": 900});
        assert!(parse_condition(tenth).is_ok());
    }

    #[test]
    fn webhook_urls_must_be_plain_http_uris() {
        for ok in ["https://hooks.example.com/a?b=c", "HTTP://example.com/%20x"] {
            assert!(parse_webhook_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            " https://example.com/",
            "https://example.com/a b",
            "https://example.com/%zz",
            "ftp://example.com/",
            "example.com",
            "https://u:p@example.com/",
            "https://example.com/#frag",
        ] {
            assert!(
                matches!(parse_webhook_url(bad), Err(ApiError::Webhook(_))),
                "{bad:?}"
            );
        }
    }
}
