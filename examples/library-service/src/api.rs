//! The routes: the canonical Manifest dispatcher, reads, health.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use manifest_runtime::{CommandOptions, Engine, Program, WritePath};
use serde::Deserialize;
use serde_json::{Value as Json_, json};

use crate::auth::{Caller, Keys};
use crate::error::ApiError;
use crate::store::Db;

/// What every request shares.
pub struct App {
    pub program: Arc<Program>,
    pub db: Db,
    pub write: WritePath,
    pub keys: Keys,
}

/// The shared state, cheap to clone.
#[derive(Clone)]
pub struct AppState(pub Arc<App>);

impl AsRef<Keys> for AppState {
    fn as_ref(&self) -> &Keys {
        &self.0.keys
    }
}

/// The page: no build step, one file.
const PAGE: &str = include_str!("page.html");

async fn openapi(State(state): State<AppState>) -> Json<Json_> {
    Json(crate::openapi::document(state.0.program.ir()))
}

/// The service's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(|| async { axum::response::Html(PAGE) }))
        .route("/api/openapi.json", get(openapi))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/api/manifest/{entity}", get(list))
        .route("/api/manifest/{entity}/{id}", get(one))
        .route("/api/manifest/{entity}/commands/{command}", post(run_new))
        .route(
            "/api/manifest/{entity}/{id}/commands/{command}",
            post(run_on),
        )
        .with_state(state)
}

impl App {
    /// The engine of one request: the caller's tenant and user, nothing else.
    fn engine(&self, caller: &Caller) -> Result<Engine, ApiError> {
        let claims = &caller.0;
        Ok(Engine::builder(self.program.clone())
            .tenant(claims.tenant.as_str())
            .context(json!({"user": {"id": claims.sub, "role": claims.role}}))
            .database(self.db.database())
            .store_provider_arc(self.db.provider())
            .write_path(self.write.clone())
            .row_level_security()
            .build()?)
    }

    fn known(&self, entity: &str) -> Result<(), ApiError> {
        match self.program.ir().entity(entity) {
            Some(_) => Ok(()),
            None => Err(ApiError::not_found(format!("no entity `{entity}`"))),
        }
    }
}

async fn ready(State(state): State<AppState>) -> Response {
    match state.0.db.ping().await {
        Ok(()) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

/// `?limit=&cursor=`: a page of instances after `cursor` (an id), in id order.
#[derive(Debug, Deserialize)]
struct Page {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// One keyset page, read by the engine as one range of the store (`limit` rows from
/// `cursor`), so a page costs the same on a table of any size. `nextCursor` is where the
/// next page starts, `null` at the end.
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(entity): Path<String>,
    page: Result<Query<Page>, QueryRejection>,
) -> Result<Json<Json_>, ApiError> {
    state.0.known(&entity)?;
    let Query(page) = page.map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
    let limit = page.limit.unwrap_or(50).clamp(1, 500);
    let engine = state.0.engine(&caller)?;
    let page = engine
        .list_instances(&entity, page.cursor.as_deref(), limit)
        .await?;
    Ok(Json(
        json!({"data": page.instances, "nextCursor": page.next}),
    ))
}

async fn one(
    State(state): State<AppState>,
    caller: Caller,
    Path((entity, id)): Path<(String, String)>,
) -> Result<Json<Json_>, ApiError> {
    state.0.known(&entity)?;
    let engine = state.0.engine(&caller)?;
    match engine.get_instance(&entity, &id).await? {
        Some(instance) => Ok(Json(json!({"data": instance}))),
        None => Err(ApiError::not_found(format!("no `{entity}` with id `{id}`"))),
    }
}

async fn run_new(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((entity, command)): Path<(String, String)>,
    body: Result<Json<Json_>, JsonRejection>,
) -> Result<Json<Json_>, ApiError> {
    run(state, caller, headers, entity, None, command, body).await
}

async fn run_on(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((entity, id, command)): Path<(String, String, String)>,
    body: Result<Json<Json_>, JsonRejection>,
) -> Result<Json<Json_>, ApiError> {
    run(state, caller, headers, entity, Some(id), command, body).await
}

async fn run(
    state: AppState,
    caller: Caller,
    headers: HeaderMap,
    entity: String,
    id: Option<String>,
    command: String,
    body: Result<Json<Json_>, JsonRejection>,
) -> Result<Json<Json_>, ApiError> {
    state.0.known(&entity)?;
    let input = match body {
        Ok(Json(Json_::Object(input))) => input,
        Ok(Json(_)) => return Err(ApiError::bad_request("the body must be a JSON object")),
        Err(rejection) => return Err(ApiError::bad_request(rejection.body_text())),
    };
    let engine = state.0.engine(&caller)?;
    let mut options = match &id {
        // A command on an instance the caller's tenant does not have is a 404, found by the
        // command's own read, in its transaction.
        Some(id) => CommandOptions::on(entity.as_str(), id.as_str()).require_instance(),
        None => CommandOptions::entity(entity.as_str()),
    }
    .source("http");
    if let Some(key) = header(&headers, "idempotency-key") {
        options = options.idempotency_key(key);
    }
    if let Some(request) = header(&headers, "x-request-id") {
        options = options.request_id(request.clone()).correlation_id(request);
    }
    let result = engine.run_command(&command, input, options).await?;
    if !result.success {
        return Err(ApiError::from_result(result));
    }
    let events = serde_json::to_value(&result.emitted_events).unwrap_or(Json_::Null);
    let diagnostics = serde_json::to_value(&result.constraint_outcomes).unwrap_or(Json_::Null);
    Ok(Json(
        json!({"data": result.result, "events": events, "diagnostics": diagnostics}),
    ))
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name)?.to_str().ok().map(str::to_owned)
}
