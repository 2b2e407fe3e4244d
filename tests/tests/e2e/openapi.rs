//! The OpenAPI document: served with the docs UI (its assets in the
//! binary), complete, and true to the router. Responses are checked against
//! it by schemathesis in `cargo xtask test`.

use agensium_tests::{Client, TestApp};
use reqwest::Method;
use reqwest::StatusCode;
use serde_json::Value;

/// Every operation the document lists is routed (it never reaches the JSON
/// 404 of unknown paths nor a 405), and the router has no route the document
/// lacks: it is built from the same annotations (`OpenApiRouter` in
/// `api/src/app.rs`, whose only plain routes are the health router's).
#[tokio::test]
async fn the_document_covers_every_route_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| c.slots = 0).await;
    let anon = Client::new(&app.url);
    let r = anon.get("/openapi.json").await;
    assert_eq!(r.status(), StatusCode::OK, "the document needs no key");
    let doc: Value = r.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert_eq!(
        doc,
        serde_json::to_value(agensium_api::app::openapi()).unwrap()
    );
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let url = path
            .replace("{team}", "default")
            .replace("{id}", "01a23c4e-5abf-708b-8cff-6ee24ab3ff46")
            .replace("{name}", "no-such-processor")
            .replace("{version}", "1.0.0");
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            operations += 1;
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = app
                .http
                .request(m, format!("{}{url}", app.url))
                .send()
                .await
                .unwrap();
            let status = r.status();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            assert_ne!(
                status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}: {body}"
            );
            assert_ne!(
                body["error"]["code"], "not_found",
                "{method} {path} is not routed"
            );
        }
    }
    assert_eq!(operations, 29, "every operation of the API");
    let source = include_str!("../../../api/src/app.rs");
    assert_eq!(
        source.matches(".route(").count(),
        3,
        "every API route is added with `routes!` (documented); only the health router's three are plain"
    );
    app.stop().await;
}

/// Every path parameter states its shape from the domain's own rules
/// (names, versions, job and key ids), and so do the body fields and query
/// parameters that have one (a new team's name, a key's role, a callback
/// URL): a client generator or a fuzzer sees what the API accepts, not
/// "any string".
#[test]
fn every_path_parameter_states_its_shape() {
    let doc = serde_json::to_value(agensium_api::app::openapi()).unwrap();
    let mut stated = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let parameters = operation["parameters"].as_array().into_iter().flatten();
            for p in parameters.filter(|p| p["in"] == "path") {
                let schema = &p["schema"];
                let expected = match p["name"].as_str().unwrap() {
                    "name" | "team" => agensium_domain::SLUG_PATTERN,
                    "version" => agensium_domain::VERSION_PATTERN,
                    "id" if path.contains("/keys/") => agensium_domain::KeyId::PATTERN,
                    "id" => {
                        assert_eq!(schema["format"], "uuid", "{method} {path}");
                        stated += 1;
                        continue;
                    }
                    other => panic!("{method} {path}: no rule for {{{other}}}"),
                };
                assert_eq!(schema["pattern"], expected, "{method} {path}: {p}");
                stated += 1;
            }
        }
    }
    assert_eq!(stated, 24, "every path parameter of the API");
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["NewTeam"]["properties"]["name"]["pattern"],
        agensium_domain::SLUG_PATTERN
    );
    let roles: Vec<&str> = agensium_domain::Role::ALL
        .iter()
        .map(|r| r.as_str())
        .collect();
    assert_eq!(
        schemas["NewKey"]["properties"]["role"]["enum"],
        serde_json::json!(roles)
    );
    let submit = &doc["paths"]["/v1/processors/{name}/jobs"]["post"]["parameters"];
    let callback = submit
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "callback_url")
        .unwrap();
    assert_eq!(callback["schema"]["format"], "uri", "{callback}");
}

/// Operation ids are unique (client generators name methods after them),
/// and the links from the answers that name a job or a processor lead to
/// operations that exist, filling path parameters they have.
#[test]
fn operation_ids_are_unique_and_links_lead_somewhere() {
    let doc = serde_json::to_value(agensium_api::app::openapi()).unwrap();
    let mut operations = std::collections::BTreeMap::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            let id = operation["operationId"].as_str().unwrap().to_owned();
            assert!(
                operations.insert(id.clone(), operation.clone()).is_none(),
                "operationId {id} twice"
            );
        }
    }
    assert_eq!(operations.len(), 29);
    let mut links = 0;
    for (from, operation) in &operations {
        for response in operation["responses"].as_object().unwrap().values() {
            for link in response["links"]
                .as_object()
                .into_iter()
                .flat_map(|l| l.values())
            {
                let to = link["operationId"].as_str().unwrap();
                let target = operations
                    .get(to)
                    .unwrap_or_else(|| panic!("{from} → {to}"));
                for name in link["parameters"].as_object().unwrap().keys() {
                    assert!(
                        target["parameters"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|p| p["name"] == *name && p["in"] == "path"),
                        "{from} → {to}: no path parameter {name}"
                    );
                }
                links += 1;
            }
        }
    }
    assert_eq!(
        links, 13,
        "2 answers naming a job × 6 operations, and processors → submit"
    );
    let submitted = &operations["submit_job"]["responses"]["202"]["links"]["get_job"];
    assert_eq!(submitted["parameters"]["id"], "$response.body#/id");
}

/// `/docs` serves the Swagger UI from the binary: no request leaves the host.
#[tokio::test]
async fn the_docs_ui_is_served_offline() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |c| c.slots = 0).await;
    let anon = Client::new(&app.url);
    let page = anon.get("/docs/").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(
        !html.contains("https://"),
        "no asset from elsewhere: {html}"
    );
    for asset in [
        "/docs/swagger-ui.css",
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-initializer.js",
    ] {
        let r = anon.get(asset).await;
        assert_eq!(r.status(), StatusCode::OK, "{asset}");
        let body = r.text().await.unwrap();
        assert!(body.len() > 100, "{asset}");
        if asset.ends_with("initializer.js") {
            assert!(body.contains("/openapi.json"), "{body}");
        }
    }
    app.stop().await;
}
