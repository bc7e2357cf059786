//! The service over real HTTP: the binary started on a free loopback port (a SQLite file, and
//! PostgreSQL when `MANIFEST_PG_URL` is set; under `CI=true` it must be), a reqwest client, and
//! a local webhook receiving the outbox's events.

mod common;

use common::free_port;

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value as Json, json};

const SECRET: &str = "test-secret";

/// The service, killed when dropped.
struct Service {
    child: Child,
    base: String,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The service on `database_url`; with `admin_url`, as a non-owner role under row-level
/// security, the tables and the worker the admin's.
async fn start(database_url: &str, admin_url: Option<&str>, webhook: &str) -> Service {
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_library-service"));
    if let Some(admin) = admin_url {
        command.env("ADMIN_DATABASE_URL", admin);
    }
    let child = command
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", database_url)
        .env("LIBRARY_SECRET", SECRET)
        .env("WEBHOOK_URL", webhook)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start the service");
    let service = Service {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(format!("{}/readyz", service.base)).send().await
            && r.status() == StatusCode::OK
        {
            return service;
        }
        assert!(
            Instant::now() < deadline,
            "the service did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn token(tenant: &str, user: &str, role: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_library-service"))
        .args(["token", "--tenant", tenant, "--user", user, "--role", role])
        .env("LIBRARY_SECRET", SECRET)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A webhook receiver: the events it was sent, in order, by name and entry id.
async fn webhook() -> (String, Arc<Mutex<Vec<(String, String)>>>) {
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(entry): axum::Json<Json>| {
            let record = record.clone();
            async move {
                let name = entry["event"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let id = entry["id"].as_str().unwrap_or_default().to_owned();
                record.lock().unwrap().push((name, id));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
        key: Option<&str>,
    ) -> (StatusCode, Json) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_owned());
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Json::String(text)),
        )
    }

    async fn get(&self, path: &str, token: &str) -> (StatusCode, Json) {
        self.send(reqwest::Method::GET, path, Some(token), None, None)
            .await
    }

    async fn post(&self, path: &str, token: &str, body: Json) -> (StatusCode, Json) {
        self.send(
            reqwest::Method::POST,
            path,
            Some(token),
            Some(&body.to_string()),
            None,
        )
        .await
    }
}

async fn scenario(database_url: &str, admin_url: Option<&str>) {
    let (hook, seen) = webhook().await;
    let service = start(database_url, admin_url, &hook).await;
    let c = Client {
        http: reqwest::Client::new(),
        base: service.base.clone(),
    };
    let librarian = token("branch-1", "librarian-1", "librarian");
    let member = token("branch-1", "member-1", "member");
    let other_member = token("branch-1", "member-2", "member");
    let branch2 = token("branch-2", "librarian-9", "librarian");

    // 401: no token, a bad one.
    let (s, body) = c
        .send(reqwest::Method::GET, "/api/manifest/Book", None, None, None)
        .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("a bearer token is required"))
    );
    let (s, _) = c.get("/api/manifest/Book", "not-a-token").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let forged = token("branch-1", "x", "librarian").replace('.', ".x");
    assert_eq!(
        c.get("/api/manifest/Book", &forged).await.0,
        StatusCode::UNAUTHORIZED
    );

    // The seeded branch: three books, in id order, paged.
    let (s, body) = c.get("/api/manifest/Book?limit=2", &librarian).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let ids: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["book-1", "book-2"]);
    assert_eq!(body["nextCursor"], "book-2");
    let (_, body) = c
        .get("/api/manifest/Book?limit=2&cursor=book-2", &librarian)
        .await;
    assert_eq!(body["data"][0]["id"], "book-3");
    assert_eq!(body["nextCursor"], Json::Null);
    let (s, body) = c.get("/api/manifest/Book?limit=many", &librarian).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (
            StatusCode::BAD_REQUEST,
            Some("Failed to deserialize query string: limit: invalid digit found in string")
        )
    );

    // 404s: an unknown entity, instance or command.
    assert_eq!(
        c.get("/api/manifest/Nope", &librarian).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.get("/api/manifest/Book/nope", &librarian).await.0,
        StatusCode::NOT_FOUND
    );
    let (s, body) = c
        .post(
            "/api/manifest/Book/book-1/commands/nope",
            &librarian,
            json!({}),
        )
        .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("Command 'nope' not found"))
    );

    // 400: malformed JSON, a body that is not an object.
    let (s, body) = c
        .send(
            reqwest::Method::POST,
            "/api/manifest/Book/commands/create",
            Some(&librarian),
            Some("{\"title\": "),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"].as_str().unwrap().contains("EOF"), "{body}");
    let (s, _) = c
        .post("/api/manifest/Book/commands/create", &librarian, json!([1]))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // 422: a blocking constraint (a member adding a book), with its diagnostics.
    let (s, body) = c
        .post(
            "/api/manifest/Book/commands/create",
            &member,
            json!({"title": "Mine"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"], "Only librarians can add books");
    assert_eq!(
        body["diagnostics"]["constraintOutcomes"][0]["constraintName"],
        "librarianAddsBooks"
    );

    // 200: a librarian adds a book; the body is {data, events, diagnostics}.
    let (s, body) = c
        .post(
            "/api/manifest/Book/commands/create",
            &librarian,
            json!({"id": "book-4", "title": "Beloved", "author": "Toni Morrison"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["status"], "available");
    assert_eq!(body["events"][0]["name"], "BookAdded");

    // A member checks out a book: the reaction marks it loaned, in the same transaction.
    let checkout = json!({"bookId": "book-1", "memberId": "member-1"}).to_string();
    let (s, first) = c
        .send(
            reqwest::Method::POST,
            "/api/manifest/Loan/commands/create",
            Some(&member),
            Some(&checkout),
            Some("key-1"),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{first}");
    let loan = first["data"]["id"].as_str().unwrap().to_owned();
    let (_, book) = c.get("/api/manifest/Book/book-1", &member).await;
    assert_eq!(
        (
            book["data"]["status"].as_str(),
            book["data"]["currentLoanId"].as_str()
        ),
        (Some("loaned"), Some(loan.as_str()))
    );

    // Idempotent retries: the same key and body answer the same, and run nothing; the same
    // key with another body is a 409.
    let (s, again) = c
        .send(
            reqwest::Method::POST,
            "/api/manifest/Loan/commands/create",
            Some(&member),
            Some(&checkout),
            Some("key-1"),
        )
        .await;
    assert_eq!((s, &again), (StatusCode::OK, &first));
    let (_, loans) = c.get("/api/manifest/Loan", &librarian).await;
    assert_eq!(
        loans["data"].as_array().unwrap().len(),
        1,
        "one loan for two calls"
    );
    let other = json!({"bookId": "book-2", "memberId": "member-1"}).to_string();
    let (s, body) = c
        .send(
            reqwest::Method::POST,
            "/api/manifest/Loan/commands/create",
            Some(&member),
            Some(&other),
            Some("key-1"),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");

    // 403: a policy denial (another member returning this loan); 422: a refused command.
    let path = format!("/api/manifest/Loan/{loan}/commands/return");
    let (s, body) = c.post(&path, &other_member, json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        body["error"],
        "Members can only check out and return their own loans"
    );
    let (s, body) = c
        .post(
            "/api/manifest/Book/book-1/commands/withdraw",
            &librarian,
            json!({}),
        )
        .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("A book on loan cannot be withdrawn")
        )
    );

    // Tenant isolation: branch 2 neither reads, lists nor runs a command on branch 1's rows.
    assert_eq!(
        c.get("/api/manifest/Book/book-1", &branch2).await.0,
        StatusCode::NOT_FOUND
    );
    let (s, body) = c.get("/api/manifest/Book", &branch2).await;
    assert_eq!(
        (s, body["data"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(0))
    );
    let (s, body) = c.post(&path, &branch2, json!({})).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (
            StatusCode::NOT_FOUND,
            Some(format!("Loan `{loan}` not found").as_str())
        )
    );
    // And it wrote nothing: the loan is still open for its own branch.
    let (_, open) = c.get(&format!("/api/manifest/Loan/{loan}"), &member).await;
    assert_eq!(open["data"]["status"], "active", "{open}");

    // The member returns the loan: the book is available again.
    let (s, body) = c.post(&path, &member, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (_, book) = c.get("/api/manifest/Book/book-1", &member).await;
    assert_eq!(book["data"]["status"], "available");

    // The OpenAPI document, from the IR: each command's route and parameters.
    let (s, doc) = c
        .send(reqwest::Method::GET, "/api/openapi.json", None, None, None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let checkout_op = &doc["paths"]["/api/manifest/Loan/commands/create"]["post"];
    assert_eq!(checkout_op["operationId"], "Loan.create");
    let body = &checkout_op["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(body["properties"]["bookId"]["type"], "string");
    assert_eq!(body["required"], json!(["bookId", "memberId"]));
    assert!(doc["paths"]["/api/manifest/Loan/{id}/commands/return"]["post"].is_object());
    // The page.
    let (s, page) = c.send(reqwest::Method::GET, "/", None, None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.as_str().is_some_and(|p| p.contains("Show the books")));

    // The outbox delivers every event to the webhook: the seed's, then these, in order.
    let deadline = Instant::now() + Duration::from_secs(20);
    let wanted = ["BookAdded", "BookCheckedOut", "LoanClosed", "BookReturned"];
    loop {
        let names: Vec<String> = seen
            .lock()
            .unwrap()
            .iter()
            .map(|(n, _)| n.clone())
            .collect();
        let tail: Vec<&str> = names
            .iter()
            .map(String::as_str)
            .filter(|n| wanted.contains(n))
            .collect();
        if tail.ends_with(&["BookAdded", "BookCheckedOut", "LoanClosed", "BookReturned"]) {
            break;
        }
        assert!(Instant::now() < deadline, "the webhook saw {names:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(service);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_on_sqlite() {
    let path = std::env::temp_dir().join(format!("library-service-{}.db", uuid::Uuid::now_v7()));
    scenario(&format!("sqlite://{}", path.display()), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_on_postgres() {
    let Some(url) = common::pg_url() else {
        return;
    };
    scenario(&url, None).await;
}

/// The same scenario with the service serving requests as a role that neither owns the
/// tables nor bypasses row-level security, in a database of its own; then, as that role,
/// a statement outside a tenant's transaction sees none of the rows the scenario wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_on_postgres_as_a_non_owner_under_row_level_security() {
    use manifest_core::sqlx::{self, Connection, PgConnection};
    let Some(url) = common::pg_url() else {
        return;
    };
    let run = &uuid::Uuid::new_v4().simple().to_string()[..12];
    let (database, role) = (format!("library_rls_{run}"), format!("library_app_{run}"));
    let mut superuser = PgConnection::connect(&url).await.unwrap();
    for sql in [
        format!("CREATE DATABASE \"{database}\""),
        format!("CREATE ROLE \"{role}\" LOGIN NOBYPASSRLS"),
    ] {
        sqlx::query(&sql).execute(&mut superuser).await.unwrap();
    }
    // The throwaway server's URL is `postgres://postgres@host:port/postgres`, trust auth.
    let (base, _) = url.rsplit_once('/').unwrap();
    let admin_url = format!("{base}/{database}");
    let app_url = admin_url.replacen("postgres@", &format!("{role}@"), 1);
    assert_ne!(app_url, admin_url);

    scenario(&app_url, Some(&admin_url)).await;

    // As the application role, with no tenant set: nothing, though the owner sees the rows.
    let mut app = PgConnection::connect(&app_url).await.unwrap();
    let mut admin = PgConnection::connect(&admin_url).await.unwrap();
    for table in ["library_book", "library_loan", "member", "manifest_outbox"] {
        let count = format!("SELECT count(*) FROM \"{table}\"");
        let seen: i64 = sqlx::query_scalar(&count)
            .fetch_one(&mut app)
            .await
            .unwrap();
        let all: i64 = sqlx::query_scalar(&count)
            .fetch_one(&mut admin)
            .await
            .unwrap();
        assert_eq!(
            seen, 0,
            "{table}: the application role sees no row outside a tenant"
        );
        assert!(all > 0, "{table}: the scenario wrote rows");
    }
    // And it cannot make tables: the schema is the owner's.
    let create = sqlx::query("CREATE TABLE intruder (id text)")
        .execute(&mut app)
        .await;
    assert!(create.is_err(), "the application role made a table");
    drop((app, admin));
    for sql in [
        format!("DROP DATABASE \"{database}\" WITH (FORCE)"),
        format!("DROP ROLE \"{role}\""),
    ] {
        sqlx::query(&sql).execute(&mut superuser).await.unwrap();
    }
}
