//! `library-service`: a multi-tenant Manifest command service (a library lending books, one
//! tenant per branch) on axum, SQLite by default, PostgreSQL by URL.
//!
//! `cargo run -p library-service` starts it on `library.db` with a demo branch seeded, and
//! prints a token and curl lines that work as printed. `library-service token --tenant
//! branch-1 --user u1 --role librarian` prints a token.

mod api;
mod auth;
mod error;
mod openapi;
mod store;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Args, Parser, Subcommand};
use manifest_core::OutboxEntry;
use manifest_runtime::worker::{Deliver, DeliveryError, OutboxWorker};
use manifest_runtime::{Program, WritePath};

use crate::auth::{Claims, Keys};

/// The program: library.manifest, compiled by build.rs (manifest-build).
const IR: &str = include_str!(concat!(env!("OUT_DIR"), "/library.ir.json"));

#[derive(Debug, Parser)]
#[command(name = "library-service", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: Serve,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve(Serve),
    /// Print a token for local use.
    Token {
        /// The branch.
        #[arg(long)]
        tenant: String,
        /// The user's id.
        #[arg(long)]
        user: String,
        /// `member` or `librarian`.
        #[arg(long, default_value = "member")]
        role: String,
        /// The signing secret (as the server's).
        #[arg(long, env = "LIBRARY_SECRET", default_value = DEV_SECRET)]
        secret: String,
        /// Hours until it expires.
        #[arg(long, default_value_t = 24)]
        hours: u64,
    },
}

/// The signing secret of local use; a deployment sets `LIBRARY_SECRET`.
const DEV_SECRET: &str = "dev-secret-change-me";

#[derive(Debug, Clone, Args)]
struct Serve {
    /// `sqlite://<file>` or `postgres://...`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://library.db")]
    database_url: String,
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// The token signing secret.
    #[arg(long, env = "LIBRARY_SECRET", default_value = DEV_SECRET)]
    secret: String,
    /// Deliver outbox events to this URL (an HTTP POST each); to the log when unset.
    #[arg(long, env = "WEBHOOK_URL")]
    webhook_url: Option<String>,
    /// PostgreSQL: the tables' owner, a role that bypasses row-level security (a superuser or
    /// `BYPASSRLS`). With it the service makes the tables and runs the outbox worker as this
    /// role, puts every table under row-level security, and serves requests as
    /// `DATABASE_URL`'s role (one that neither owns the tables nor bypasses it), whose
    /// statements then see and write only their tenant's rows.
    #[arg(long, env = "ADMIN_DATABASE_URL")]
    admin_database_url: Option<String>,
    /// Do not seed the demo branch.
    #[arg(long)]
    no_seed: bool,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Delivers outbox entries to a webhook (the entry id as `Idempotency-Key`) or to the log.
struct Delivery {
    url: Option<String>,
    client: reqwest::Client,
}

#[async_trait::async_trait]
impl Deliver for Delivery {
    async fn deliver(&self, entry: &OutboxEntry) -> Result<(), DeliveryError> {
        let Some(url) = &self.url else {
            tracing::info!(target: "library::events", id = %entry.id, tenant = %entry.tenant, event = %entry.event.name, "event");
            return Ok(());
        };
        let response = self
            .client
            .post(url)
            .header("idempotency-key", &entry.id)
            .json(entry)
            .send()
            .await
            .map_err(|e| DeliveryError::with_source("the webhook could not be reached", e))?;
        if !response.status().is_success() {
            return Err(DeliveryError::new(format!(
                "the webhook answered {}",
                response.status()
            )));
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Some(Command::Token {
            tenant,
            user,
            role,
            secret,
            hours,
        }) => {
            let claims = Claims {
                tenant,
                sub: user,
                role,
                exp: now_secs() + hours * 3600,
            };
            match Keys::new(secret.as_bytes()).sign(&claims) {
                Ok(token) => {
                    println!("{token}");
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            }
        }
        Some(Command::Serve(serve)) => serve_api(serve).await,
        None => serve_api(cli.serve).await,
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("library-service: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve_api(serve: Serve) -> Result<(), String> {
    let program = Arc::new(Program::from_json_str(IR).map_err(|e| e.to_string())?);
    let db = store::Db::open(&serve.database_url)
        .await
        .map_err(|e| e.to_string())?;
    let admin = match &serve.admin_database_url {
        Some(url) => Some(store::Db::open(url).await.map_err(|e| e.to_string())?),
        None => None,
    };
    // The tables and the worker are the owner's; requests run as `db`'s role.
    let owner = admin.as_ref().unwrap_or(&db);
    owner.prepare(&program).await.map_err(|e| e.to_string())?;
    if let Some(admin) = &admin {
        let (store::Db::Postgres(admin), store::Db::Postgres(app)) = (admin, &db) else {
            return Err(
                "--admin-database-url is for PostgreSQL, with a postgres:// DATABASE_URL".into(),
            );
        };
        let role = store::secure(admin, app).await.map_err(|e| e.to_string())?;
        tracing::info!(%role, "row-level security on every table; requests run as this role");
    }
    let parts = db.parts();
    let keys = Keys::new(serve.secret.as_bytes());
    if !serve.no_seed {
        let seeded = store::seed(&program, &db)
            .await
            .map_err(|e| e.to_string())?;
        if seeded {
            tracing::info!("seeded the demo branch `branch-1`");
        }
    }
    let write = WritePath::builder()
        .outbox(parts.outbox.clone())
        .idempotency(parts.idempotency.clone())
        .audit(parts.audit.clone())
        .build();
    let listener = tokio::net::TcpListener::bind(serve.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", serve.listen))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    print_welcome(&keys, address);
    let worker = OutboxWorker::builder(
        owner.parts().outbox,
        Arc::new(Delivery {
            url: serve.webhook_url.clone(),
            client: reqwest::Client::new(),
        }),
    )
    .poll_interval(Duration::from_millis(200))
    .build();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(async move {
        let mut stopped = stopped;
        worker
            .run(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await;
    });
    let app = api::AppState(Arc::new(api::App {
        program,
        db,
        write,
        keys,
    }));
    let router = api::router(app).layer(tower_http::timeout::TimeoutLayer::with_status_code(
        axum::http::StatusCode::REQUEST_TIMEOUT,
        Duration::from_secs(30),
    ));
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;
    // Requests in flight are done; the worker finishes its batch.
    let _ = stop.send(true);
    let _ = worker.await;
    Ok(())
}

fn print_welcome(keys: &Keys, address: SocketAddr) {
    let token = |user: &str, role: &str| {
        keys.sign(&Claims {
            tenant: "branch-1".to_owned(),
            sub: user.to_owned(),
            role: role.to_owned(),
            exp: now_secs() + 24 * 3600,
        })
        .unwrap_or_default()
    };
    let librarian = token("librarian-1", "librarian");
    println!("library-service listening on http://{address}");
    println!("a librarian token of branch-1 (24 h); paste these lines into a shell:");
    println!("  export TOKEN={librarian}");
    println!("try:");
    println!("  curl -s -H \"Authorization: Bearer $TOKEN\" http://{address}/api/manifest/Book");
    println!(
        "  curl -s -X POST -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' -d '{{\"title\": \"Emma\", \"author\": \"Austen\", \"isbn\": \"978-1\"}}' http://{address}/api/manifest/Book/commands/create"
    );
    println!("  curl -s http://{address}/healthz");
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
