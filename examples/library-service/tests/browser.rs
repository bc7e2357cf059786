//! The page in a real browser: headless Chromium (Debian's `chromium`, which `.ci/run`
//! installs when missing), driven over the DevTools protocol. A person's steps: paste a token,
//! press "Show the books", see the branch's books, press "Check out" on one; the list then
//! shows it loaned (and the API agrees). Skipped without Chromium, except under `CI=true`.

mod common;

use common::free_port;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value as Json, json};
use tokio_tungstenite::tungstenite::Message;

const SECRET: &str = "browser-secret";

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn chromium() -> Option<String> {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Some(name.to_owned());
        }
    }
    None
}

async fn until<F: std::future::Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A DevTools session on one page.
struct Page {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next: u64,
}

impl Page {
    async fn call(&mut self, method: &str, params: Json) -> Json {
        self.next += 1;
        let id = self.next;
        let message = json!({"id": id, "method": method, "params": params}).to_string();
        self.socket
            .send(Message::Text(message.into()))
            .await
            .unwrap();
        while let Some(message) = self.socket.next().await {
            if let Message::Text(text) = message.unwrap() {
                let reply: Json = serde_json::from_str(&text).unwrap();
                if reply["id"] == id {
                    return reply;
                }
            }
        }
        panic!("the browser closed the session");
    }

    /// The value of a JavaScript expression in the page.
    async fn eval(&mut self, expression: &str) -> Json {
        let reply = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true}),
            )
            .await;
        reply["result"]["result"]["value"].clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_sees_the_books_and_checks_one_out() {
    let Some(browser) = chromium() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true but Chromium is not installed: .ci/run installs Debian's `chromium`");
        }
        eprintln!("skipped: Chromium is not installed");
        return;
    };
    let db = std::env::temp_dir().join(format!("library-browser-{}.db", uuid::Uuid::now_v7()));
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _service = Killed(
        Command::new(env!("CARGO_BIN_EXE_library-service"))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", format!("sqlite://{}", db.display()))
            .env("LIBRARY_SECRET", SECRET)
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let http = reqwest::Client::new();
    until("the service", || async {
        http.get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
    let token = String::from_utf8(
        Command::new(env!("CARGO_BIN_EXE_library-service"))
            .args([
                "token", "--tenant", "branch-1", "--user", "member-1", "--role", "member",
            ])
            .env("LIBRARY_SECRET", SECRET)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_owned();

    let devtools = free_port();
    let profile =
        std::env::temp_dir().join(format!("library-browser-profile-{}", uuid::Uuid::now_v7()));
    let _browser = Killed(
        Command::new(&browser)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                &format!("--remote-debugging-port={devtools}"),
                &format!("--user-data-dir={}", profile.display()),
                "about:blank",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let list = format!("http://127.0.0.1:{devtools}/json/list");
    until("the browser", || async {
        http.get(&list).send().await.is_ok()
    })
    .await;
    let targets: Json = http.get(&list).send().await.unwrap().json().await.unwrap();
    let url = targets
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == "page")
        .and_then(|t| t["webSocketDebuggerUrl"].as_str())
        .expect("a page target")
        .to_owned();
    let (socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut page = Page { socket, next: 0 };
    page.call("Page.navigate", json!({"url": format!("{base}/")}))
        .await;
    let mut ready = false;
    for _ in 0..300 {
        if page
            .eval("document.readyState === 'complete' && !!document.getElementById('load')")
            .await
            == json!(true)
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "the page loaded");

    // Paste the token, press "Show the books".
    page.eval(&format!(
        "document.getElementById('token').value = {}; document.getElementById('load').click(); true",
        Json::String(token.clone())
    ))
    .await;
    let rows = "Array.from(document.querySelectorAll('#books tr')).map(r => [r.dataset.id, r.children[2].textContent])";
    let mut seen = Json::Null;
    for _ in 0..300 {
        seen = page.eval(rows).await;
        if seen.as_array().is_some_and(|r| r.len() == 3) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        seen,
        json!([
            ["book-1", "available"],
            ["book-2", "available"],
            ["book-3", "available"]
        ]),
        "the seeded books render"
    );

    // Press "Check out" on book-2: the list shows it loaned, and it has no button any more.
    page.eval("document.querySelector('tr[data-id=\"book-2\"] button.checkout').click(); true")
        .await;
    for _ in 0..300 {
        seen = page.eval(rows).await;
        if seen[1][1] == "loaned" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen[1], json!(["book-2", "loaned"]), "{seen}");
    let button = page
        .eval("!!document.querySelector('tr[data-id=\"book-2\"] button')")
        .await;
    assert_eq!(button, json!(false));
    let message = page
        .eval("document.getElementById('message').textContent")
        .await;
    assert_eq!(message, json!(""));
    // The API agrees.
    let book: Json = http
        .get(format!("{base}/api/manifest/Book/book-2"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(book["data"]["status"], "loaned");
    let _ = std::fs::remove_dir_all(profile);
}
