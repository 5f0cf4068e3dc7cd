//! The OpenAPI document lists every route of the route table with its auth and its error
//! answers, and the documentation page is served from the binary with nothing fetched elsewhere.

use coinbeat_api::{auth::Access, routes};
use reqwest::StatusCode;

use crate::support::Api;

#[tokio::test]
async fn the_document_lists_every_route_with_its_auth_and_error_answers() {
    let api = Api::start().await;
    let (status, doc) = api.get("/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let endpoints = routes::endpoints();
    let listed: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert_eq!(listed, endpoints.len(), "one operation per route");
    for (method, path, access) in endpoints {
        let op = &doc["paths"][path][method.as_str().to_ascii_lowercase()];
        let what = format!("{method} {path}");
        assert!(op.is_object(), "{what} is missing");
        assert!(
            !op["summary"].as_str().unwrap_or("").is_empty(),
            "{what}: summary"
        );
        let responses = op["responses"].as_object().unwrap();
        for code in ["422", "429", "503"] {
            assert!(responses.contains_key(code), "{what}: {code}");
        }
        assert_eq!(
            responses["429"]["headers"]["Retry-After"]["schema"]["type"], "integer",
            "{what}"
        );
        let security = op["security"].as_array().unwrap();
        match access {
            // `/v1/me` reads a token when one is given, and says when it is not valid.
            Access::Public if path == "/v1/me" => {
                assert_eq!(security.len(), 2, "{what}: open or a token");
                assert!(responses.contains_key("401"), "{what}");
            }
            Access::Public => {
                assert!(security.is_empty(), "{what}");
                assert!(!responses.contains_key("401"), "{what}");
            }
            Access::Read | Access::Status(_) => {
                assert_eq!(security.len(), 2, "{what}: open or a token");
                assert!(responses.contains_key("401"), "{what}");
            }
            Access::Enqueue | Access::Admin => {
                assert_eq!(security[0]["bearer"], serde_json::json!([]), "{what}");
                assert!(responses.contains_key("401"), "{what}");
                assert!(responses.contains_key("403"), "{what}");
                let role = if access == Access::Admin {
                    "admin"
                } else {
                    "enqueue"
                };
                assert_eq!(op["x-required-role"], role, "{what}");
            }
        }
        let declared: Vec<&str> = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            declared,
            coinbeat_api::openapi::path_parameters(path),
            "{what}: path parameters"
        );
        let error = &responses["422"]["content"]["application/json"]["schema"]["$ref"];
        assert_eq!(error, "#/components/schemas/Error", "{what}");
    }
}

#[tokio::test]
async fn the_docs_page_loads_its_own_script_and_style_and_nothing_from_elsewhere() {
    let api = Api::start().await;
    let mut bodies = String::new();
    for (path, kind) in [
        ("/docs", "text/html"),
        ("/docs/docs.js", "text/javascript"),
        ("/docs/docs.css", "text/css"),
    ] {
        let response = api.http.get(api.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers().clone();
        assert!(
            headers["content-type"].to_str().unwrap().starts_with(kind),
            "{path}: {:?}",
            headers["content-type"]
        );
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
            "{csp}"
        );
        bodies.push_str(&response.text().await.unwrap());
    }
    assert!(bodies.contains("<script src=\"/docs/docs.js\""), "{bodies}");
    assert!(bodies.contains("fetch(\"/openapi.json\")"));
    for external in ["http://", "https://", "//cdn", "@import"] {
        assert!(!bodies.contains(external), "the page refers to {external}");
    }
}

/// Every `$ref` in `value`.
fn refs<'a>(value: &'a serde_json::Value, found: &mut Vec<&'a str>) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::String(target)) = map.get("$ref") {
                found.push(target);
            }
            map.values().for_each(|v| refs(v, found));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
        _ => {}
    }
}

#[tokio::test]
async fn parameters_bodies_and_answers_have_the_schemas_of_the_types_that_read_and_render_them() {
    let api = Api::start_with(|s| s.api.max_portfolio_holdings = 7).await;
    let (_, doc) = api.get("/openapi.json").await;
    let op = |method: &str, path: &str| doc["paths"][path][method].clone();
    let param = |method: &str, path: &str, name: &str| {
        op(method, path)["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{method} {path}: no {name}"))
            .clone()
    };
    let schemas = &doc["components"]["schemas"];

    // Path parameters: the domain types' patterns.
    let id = param("get", "/v1/tasks/{id}", "id");
    assert_eq!(
        id["schema"]["pattern"],
        coinbeat_shared::openapi::ULID_PATTERN
    );
    assert_eq!(id["schema"]["minLength"], 26);
    let symbol = param("delete", "/v1/admin/symbols/{symbol}", "symbol");
    assert_eq!(
        symbol["schema"]["pattern"],
        coinbeat_shared::openapi::SYMBOL_PATTERN
    );
    // Removing several tracked symbols: the list is required, as the route requires it.
    let symbols = param("delete", "/v1/admin/symbols", "symbols");
    assert_eq!(symbols["required"], true, "{symbols}");
    assert_eq!(
        symbols["schema"]["pattern"],
        coinbeat_api::routes::prices::SYMBOL_LIST_PATTERN
    );
    let queue = param("get", "/v1/admin/queues/{queue}/dead", "queue");
    assert_eq!(
        queue["schema"]["enum"],
        serde_json::json!([
            "prices",
            "market",
            "wallet",
            "health",
            "cleanup",
            "catalogue",
            "history",
            "rates",
            "alerts"
        ])
    );

    // Query parameters: the query structs' fields, optional, with their limits.
    let limit = param("get", "/v1/prices", "limit");
    assert_eq!(limit["required"], false);
    assert_eq!(limit["schema"]["minimum"], 1);
    assert_eq!(limit["schema"]["maximum"], 1000);
    let tier = param("get", "/v1/prices", "tier");
    let tiers: Vec<&str> = tier["schema"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    for name in ["top", "all", "tracked"] {
        assert!(tiers.contains(&name), "{tiers:?}");
    }
    let symbols = param("get", "/v1/prices", "symbols");
    assert!(
        symbols["schema"]["pattern"]
            .as_str()
            .unwrap()
            .contains("[A-Za-z0-9]{1,15}"),
        "{symbols}"
    );

    // Bodies: required fields and limits, one shape per task kind.
    let submit = &op("post", "/v1/tasks")["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(submit["$ref"], "#/components/schemas/SubmitRequest");
    let kinds = schemas["SubmitRequest"]["oneOf"].as_array().unwrap();
    assert_eq!(kinds.len(), 6);
    for kind in kinds {
        assert_eq!(kind["required"][0], "kind", "{kind}");
        assert_eq!(kind["additionalProperties"], false, "{kind}");
    }
    assert_eq!(schemas["PricesJob"]["properties"]["symbols"]["minItems"], 1);
    let holdings = &schemas["PortfolioRequest"]["properties"]["holdings"];
    assert_eq!(holdings["minItems"], 1);
    assert_eq!(holdings["maxItems"], 7, "the deployment's own limit");
    assert!(
        schemas["PortfolioRequest"]["required"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("holdings"))
    );

    // Answers: the response types, and every reference resolves.
    let prices = &op("get", "/v1/prices")["responses"]["200"]["content"]["application/json"];
    assert_eq!(prices["schema"]["$ref"], "#/components/schemas/PriceList");
    assert!(
        schemas["PriceView"]["required"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("usd"))
    );
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(found.len() > 40, "{}", found.len());
    for target in found {
        let name = target.strip_prefix("#/components/schemas/").unwrap();
        assert!(schemas[name].is_object(), "{target} is not in the document");
    }
    // Every JSON answer but the document's own has a schema.
    for (method, path, _) in routes::endpoints() {
        let op = op(&method.as_str().to_ascii_lowercase(), path);
        for (status, response) in op["responses"].as_object().unwrap() {
            let schema = &response["content"]["application/json"]["schema"];
            if path != "/openapi.json" && !response["content"]["application/json"].is_null() {
                assert!(
                    schema.as_object().is_some_and(|s| !s.is_empty()),
                    "{method} {path} {status}"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_alert_routes_are_documented_with_their_answers_and_tasks_never_offer_alerts() {
    let api = Api::start().await;
    let (_, doc) = api.get("/openapi.json").await;
    let schemas = &doc["components"]["schemas"];

    let create = &doc["paths"]["/v1/alerts"]["post"];
    for code in ["201", "401", "403", "404", "409", "422", "503"] {
        assert!(create["responses"][code].is_object(), "POST: {code}");
    }
    assert!(create["responses"]["201"]["headers"]["Location"].is_object());
    assert!(
        create["responses"]["422"]["description"]
            .as_str()
            .unwrap()
            .contains("webhook_target_refused")
    );
    let body = &schemas["CreateAlert"];
    assert_eq!(body["additionalProperties"], false);
    let url = &body["properties"]["webhook_url"];
    assert_eq!(url["format"], "uri");
    assert_eq!(url["pattern"], "^[Hh][Tt][Tt][Pp][Ss]?://");
    assert_eq!(url["maxLength"], 2048);
    let kinds = schemas["ConditionRequest"]["oneOf"].as_array().unwrap();
    assert_eq!(kinds.len(), 3, "above, below, move");
    let usd = &kinds[0]["properties"]["usd"];
    assert_eq!(usd["type"], "string");
    assert!(
        usd["pattern"]
            .as_str()
            .unwrap()
            .contains("1000000000000000")
    );
    let window = &kinds[2]["properties"]["window_secs"];
    assert_eq!(
        (window["minimum"].as_f64(), window["maximum"].as_f64()),
        (Some(900.0), Some(604800.0))
    );

    let one = &doc["paths"]["/v1/alerts/{id}"];
    for method in ["get", "delete"] {
        for code in ["401", "403", "404", "422", "503"] {
            assert!(
                one[method]["responses"][code].is_object(),
                "{method}: {code}"
            );
        }
    }
    let deleted = &one["delete"]["responses"]["204"];
    assert!(deleted.is_object());
    assert!(deleted["content"].is_null(), "204 has no body: {deleted}");
    assert!(
        schemas["AlertView"]["properties"]["secret"].is_object()
            && !schemas["AlertView"]["required"]
                .as_array()
                .unwrap()
                .contains(&serde_json::json!("secret")),
        "the secret is shown on creation only"
    );

    // `POST /v1/tasks` offers no `alerts` kind: deliveries are not made on request.
    let offered: Vec<&str> = schemas["SubmitRequest"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|kind| kind["properties"]["kind"]["enum"].as_array().unwrap())
        .map(|kind| kind.as_str().unwrap())
        .collect();
    assert!(!offered.contains(&"alerts"), "{offered:?}");
}
