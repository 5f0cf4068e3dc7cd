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
