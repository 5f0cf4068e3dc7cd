//! The OpenAPI 3.1 document, generated from the route table ([`crate::routes::endpoints`]): so
//! every route is in it, with the auth its [`Access`] rule asks for and the error answers the API
//! can give it. What the table does not know (a summary, the query parameters, the success
//! status) comes from [`describe`], which must cover every route (a test walks the table).
//!
//! Served at `GET /openapi.json`; `GET /docs` ([`docs`]) renders it with no network access.

pub mod docs;
mod operations;

use axum::http::Method;
use serde_json::{Map, Value, json};

use crate::auth::Access;
pub use operations::{Operation, describe};

/// The error answers of a route, by what it takes and who may call it.
fn error_responses(method: &Method, access: Access, op: &Operation) -> Map<String, Value> {
    let mut responses = Map::new();
    let error = |description: &str| {
        json!({
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        })
    };
    responses.insert("400".into(), error("a query or path that cannot be read"));
    if access != Access::Public {
        responses.insert(
            "401".into(),
            error("no token, or a token that is invalid or expired"),
        );
    }
    if matches!(access, Access::Enqueue | Access::Admin) {
        responses.insert("403".into(), error("a token whose role is too weak"));
    }
    if op.not_found {
        responses.insert(
            "404".into(),
            error("nothing of that name is known or cached"),
        );
    }
    if *method == Method::POST || *method == Method::DELETE {
        responses.insert("413".into(), error("a body over `api.max_body_bytes`"));
        responses.insert("415".into(), error("a body that is not `application/json`"));
    }
    responses.insert("422".into(), error("input that was read but is not valid"));
    let mut limited = error("too many requests from this client, or a full queue");
    limited["headers"] =
        json!({"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}});
    responses.insert("429".into(), limited);
    responses.insert(
        "503".into(),
        error("Redis is unavailable or slower than `api.redis_timeout_ms`"),
    );
    responses
}

/// The document for `endpoints` (normally [`crate::routes::endpoints`]).
pub fn document(endpoints: &[(Method, &'static str, Access)]) -> Value {
    let mut paths = Map::new();
    for (method, path, access) in endpoints {
        let op = describe(method, path).unwrap_or_default();
        let mut parameters: Vec<Value> = path_parameters(path)
            .into_iter()
            .map(|name| {
                json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}})
            })
            .collect();
        parameters.extend(op.query.iter().map(|(name, description)| {
            json!({"name": name, "in": "query", "required": false,
                   "description": description, "schema": {"type": "string"}})
        }));
        let mut responses = error_responses(method, *access, &op);
        responses.insert(
            op.success.to_string(),
            json!({"description": op.summary, "content": {op.content: {"schema": {}}}}),
        );
        let security = match access {
            Access::Public => json!([]),
            // Open while `api.auth.public_reads` is on (or `public_status` names the route);
            // a `read` token otherwise.
            Access::Read | Access::Status(_) => json!([{}, {"bearer": []}]),
            Access::Enqueue | Access::Admin => json!([{"bearer": []}]),
        };
        let mut operation = json!({
            "operationId": operation_id(method, path),
            "summary": op.summary,
            "tags": [tag(path)],
            "parameters": parameters,
            "responses": responses,
            "security": security,
            "x-required-role": role(*access),
        });
        if op.body {
            operation["requestBody"] = json!({
                "required": true,
                "content": {"application/json": {"schema": {"type": "object"}}}
            });
        }
        paths
            .entry(path.to_string())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("a path item is an object")
            .insert(method.as_str().to_ascii_lowercase(), operation);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "coinbeat API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Crypto market data kept fresh in Redis by coinbeat's workers, and the \
                operations around it. Reads serve cached records with `fetched_at`, `source`, \
                `age_seconds` and `stale` (prices also `as_of` and `age_ms`: the moment the \
                price is of, and its age in milliseconds; a streamed price, `source` \
                `binance-ws` or `coincap-ws`, also its `exchange_time`); decimals are JSON strings, never \
                floats.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key (`coinbeat keys new --role <role>`) or a JWT with a `role` claim; roles are read < enqueue < admin."
                }
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "details": {"type": "object"}
                            }
                        }
                    }
                }
            }
        }
    })
}

/// The `{name}` segments of a path template, in order.
pub fn path_parameters(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .collect()
}

fn operation_id(method: &Method, path: &str) -> String {
    let mut id = method.as_str().to_ascii_lowercase();
    for part in path.split('/').filter(|p| !p.is_empty() && *p != "v1") {
        id.push('_');
        id.push_str(&part.replace(['{', '}'], "").replace('-', "_"));
    }
    id
}

fn tag(path: &str) -> &'static str {
    if path.starts_with("/v1/admin") {
        "admin"
    } else if path.starts_with("/v1") {
        "v1"
    } else {
        "service"
    }
}

fn role(access: Access) -> Value {
    match access {
        Access::Public => Value::Null,
        Access::Read => json!("read (only when api.auth.public_reads is false)"),
        Access::Status(_) => json!("read (unless api.auth.public_status names this route)"),
        Access::Enqueue => json!("enqueue"),
        Access::Admin => json!("admin"),
    }
}
