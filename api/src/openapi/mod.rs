//! The OpenAPI 3.1 document, generated from the route table ([`crate::routes::endpoints`]): so
//! every route is in it, with the auth its [`Access`] rule asks for and the error answers the API
//! can give it. What the table does not know comes from [`describe`], which must cover every
//! route (a test walks the table): a summary, the success status, and the types each route
//! reads and renders. Their schemas are derived from those types (utoipa's `ToSchema` and
//! `IntoParams`): the query structs the handlers read, the bodies, the responses, and the domain
//! types with the patterns and limits their parsers enforce (`coinbeat_shared::openapi`).
//! What only the settings know (the `[prices.tiers]` names, `api.max_portfolio_holdings`) is
//! filled in from them.
//!
//! Served at `GET /openapi.json`; `GET /docs` ([`docs`]) renders it with no network access.

pub mod docs;
mod operations;

use axum::http::Method;
use serde_json::{Map, Value, json};
use utoipa::{
    ToSchema,
    openapi::{RefOr, schema::Schema},
};

use crate::{auth::Access, error::ErrorEnvelope};
pub use operations::{Operation, describe};

/// The schemas a document refers to, by name.
pub type Components = Vec<(String, RefOr<Schema>)>;

/// `T`'s schema, registered in `components` with every schema it refers to; a `$ref` to it.
pub fn schema_ref<T: ToSchema>(components: &mut Components) -> RefOr<Schema> {
    T::schemas(components);
    components.push((T::name().into_owned(), T::schema()));
    RefOr::Ref(utoipa::openapi::Ref::from_schema_name(T::name()))
}

fn to_json(value: impl serde::Serialize) -> Value {
    serde_json::to_value(value).expect("schemas serialize")
}

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
    if access != Access::Public || op.reads_token {
        responses.insert(
            "401".into(),
            error("no token, or a token that is invalid or expired"),
        );
    }
    if matches!(access, Access::Enqueue | Access::Admin) {
        responses.insert("403".into(), error("a token whose role is too weak"));
    }
    if let Some(description) = op.forbidden {
        responses.insert("403".into(), error(description));
    }
    if let Some(description) = op.conflict {
        responses.insert("409".into(), error(description));
    }
    if let Some(description) = op.not_found_means {
        responses.insert("404".into(), error(description));
    } else if op.not_found {
        responses.insert(
            "404".into(),
            error("nothing of that name is known or cached (a coin, a task, a queue, ...)"),
        );
    }
    if *method == Method::POST || *method == Method::DELETE {
        responses.insert("413".into(), error("a body over `api.max_body_bytes`"));
        responses.insert("415".into(), error("a body that is not `application/json`"));
    }
    responses.insert(
        "422".into(),
        error(
            op.invalid_means
                .unwrap_or("input that was read but is not valid"),
        ),
    );
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

/// What the document says that only the settings know.
#[derive(Debug, Clone, Default)]
pub struct Deployment {
    /// The enabled `[prices.tiers]` names: `?tier=` takes these, `all` and `tracked`; a prices
    /// task's `args.tier` these alone.
    pub tiers: Vec<String>,
    /// `api.max_portfolio_holdings`: the most holdings `POST /v1/portfolio/value` takes.
    pub max_portfolio_holdings: usize,
}

/// The document for `endpoints` (normally [`crate::routes::endpoints`]).
pub fn document(endpoints: &[(Method, &'static str, Access)], deployment: &Deployment) -> Value {
    let mut components: Components = Vec::new();
    let error = schema_ref::<ErrorEnvelope>(&mut components);
    debug_assert_eq!(to_json(&error)["$ref"], "#/components/schemas/Error");
    let mut paths = Map::new();
    for (method, path, access) in endpoints {
        let op = describe(method, path).unwrap_or_else(|| operations::op(""));
        let names = path_parameters(path);
        assert_eq!(
            names.len(),
            op.path.len(),
            "{method} {path}: one schema per path parameter"
        );
        let mut parameters: Vec<Value> = names
            .into_iter()
            .zip(op.path)
            .map(|(name, schema)| {
                json!({"name": name, "in": "path", "required": true, "schema": schema()})
            })
            .collect();
        parameters.extend((op.query)().into_iter().map(to_json));
        for parameter in &mut parameters {
            if parameter["in"] == "query" && parameter["name"] == "tier" {
                let mut names = deployment.tiers.clone();
                names.extend(["all".to_owned(), "tracked".to_owned()]);
                parameter["schema"]["enum"] = json!(names);
            }
        }
        let mut responses = error_responses(method, *access, &op);
        let content = match op.response {
            Some(schema) => json!({op.content: {"schema": to_json(schema(&mut components))}}),
            None => json!({op.content: {"schema": {}}}),
        };
        let mut success = match op.success {
            // No content: no body, no media type.
            204 => json!({"description": op.summary}),
            _ => json!({"description": op.summary, "content": content.clone()}),
        };
        if let Some(target) = op.location {
            success["headers"] = json!({"Location": {
                "schema": {"type": "string"},
                "description": target,
            }});
        }
        responses.insert(op.success.to_string(), success);
        for (status, description) in op.also {
            let also = match status {
                // A protocol switch has no body.
                101 => json!({"description": description}),
                _ => json!({"description": description, "content": content}),
            };
            responses.insert(status.to_string(), also);
        }
        let security = match access {
            Access::Public if op.reads_token => json!([{}, {"bearer": []}]),
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
        if let Some(body) = op.body {
            operation["requestBody"] = json!({
                "required": op.body_required,
                "content": {"application/json": {"schema": to_json(body(&mut components))}}
            });
        }
        paths
            .entry(path.to_string())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("a path item is an object")
            .insert(method.as_str().to_ascii_lowercase(), operation);
    }
    let mut schemas = Map::new();
    for (name, schema) in components {
        let schema = to_json(schema);
        // Two types of one name would make one `$ref` mean both.
        if let Some(other) = schemas.insert(name.clone(), schema.clone()) {
            assert_eq!(other, schema, "two schemas are named {name}");
        }
    }
    if let Some(holdings) = schemas
        .get_mut("PortfolioRequest")
        .and_then(|request| request.pointer_mut("/properties/holdings"))
    {
        holdings["maxItems"] = json!(deployment.max_portfolio_holdings);
    }
    // A request names at most `MAX_SYMBOLS_PER_REQUEST` coins (`on_demand::known_args`),
    // fewer than a job of the beat may hold.
    for list in ["symbols", "ids"] {
        if let Some(items) = schemas
            .get_mut("PricesJob")
            .and_then(|job| job.pointer_mut(&format!("/properties/{list}")))
        {
            items["maxItems"] = json!(crate::routes::prices::MAX_SYMBOLS_PER_REQUEST);
        }
    }
    if let Some(tier) = schemas
        .get_mut("PricesJob")
        .and_then(|job| job.pointer_mut("/properties/tier"))
    {
        // `null` is "no tier", as leaving it out is.
        let mut names: Vec<Value> = deployment.tiers.iter().map(|t| json!(t)).collect();
        names.push(Value::Null);
        tier["enum"] = Value::Array(names);
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
            "schemas": schemas,
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
