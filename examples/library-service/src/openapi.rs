//! The OpenAPI document of the service, generated from the program's IR: for every entity its
//! reads, and for every command its route with the command's parameters as the request body's
//! schema.

use manifest_runtime::Ir;
use manifest_runtime::ir::IrType;
use serde_json::{Map, Value as Json, json};

/// The JSON schema of a value of IR type `ty`.
fn schema(ty: &IrType) -> Json {
    let mut schema = match ty.name.as_str() {
        "string" => json!({"type": "string"}),
        "number" => json!({"type": "number"}),
        "boolean" => json!({"type": "boolean"}),
        "datetime" | "date" => json!({"type": "string", "format": "date-time"}),
        "list" | "array" => match &ty.generic {
            Some(item) => json!({"type": "array", "items": schema(item)}),
            None => json!({"type": "array"}),
        },
        "map" | "object" => json!({"type": "object"}),
        _ => json!({}),
    };
    if ty.nullable
        && let Some(Json::String(name)) = schema.get("type").cloned()
    {
        schema["type"] = json!([name, "null"]);
    }
    schema
}

/// The failure statuses every command route may answer.
fn failures() -> Map<String, Json> {
    let mut out = Map::new();
    for (status, what) in [
        (
            "400",
            "Bad input: malformed JSON, a wrong type, a missing parameter",
        ),
        ("401", "No or bad token"),
        ("403", "Denied by a policy"),
        ("404", "Unknown entity, command or instance"),
        (
            "409",
            "A concurrency conflict, or an idempotency key used for another request",
        ),
        ("422", "A guard failed, or a blocking constraint"),
        ("429", "Rate limited"),
    ] {
        out.insert(
            status.to_owned(),
            json!({"description": what, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Failure"}}}}),
        );
    }
    out
}

/// The document.
pub fn document(ir: &Ir) -> Json {
    let mut paths = Map::new();
    let id = json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}});
    for entity in &ir.entities {
        let name = &entity.name;
        paths.insert(
            format!("/api/manifest/{name}"),
            json!({"get": {
                "operationId": format!("{name}.list"),
                "summary": format!("This branch's {name} instances, in id order"),
                "parameters": [
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
                    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {"200": {"description": "A page: {data, nextCursor}"}, "401": {"description": "No or bad token"}},
            }}),
        );
        paths.insert(
            format!("/api/manifest/{name}/{{id}}"),
            json!({"get": {
                "operationId": format!("{name}.get"),
                "parameters": [id],
                "responses": {"200": {"description": "{data}"}, "404": {"description": "No such instance in this branch"}},
            }}),
        );
    }
    for command in &ir.commands {
        let Some(entity) = &command.entity else {
            continue;
        };
        let mut properties = Map::new();
        let mut required = Vec::new();
        for param in &command.parameters {
            properties.insert(param.name.clone(), schema(&param.ty));
            if param.required && param.default_value.is_none() {
                required.push(Json::String(param.name.clone()));
            }
        }
        let creates = command.name == "create";
        let path = if creates {
            format!("/api/manifest/{entity}/commands/{}", command.name)
        } else {
            format!("/api/manifest/{entity}/{{id}}/commands/{}", command.name)
        };
        let mut responses = failures();
        responses.insert(
            "200".to_owned(),
            json!({"description": "{data, events, diagnostics}", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Success"}}}}),
        );
        let mut parameters = vec![
            json!({"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}}),
            json!({"name": "X-Request-Id", "in": "header", "schema": {"type": "string"}}),
        ];
        if !creates {
            parameters.insert(0, id.clone());
        }
        paths.insert(
            path,
            json!({"post": {
                "operationId": format!("{entity}.{}", command.name),
                "parameters": parameters,
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "properties": properties, "required": required,
                }}}},
                "responses": responses,
            }}),
        );
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "library-service", "version": env!("CARGO_PKG_VERSION")},
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": {
                "Success": {"type": "object", "properties": {"data": {}, "events": {"type": "array"}, "diagnostics": {}}},
                "Failure": {"type": "object", "properties": {"error": {"type": "string"}, "diagnostics": {}}, "required": ["error"]},
            },
        },
    })
}
