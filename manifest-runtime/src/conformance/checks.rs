//! Each case kind's run and checks, as `conformance.test.ts` does them (`HARNESS.md`). Every
//! check runs and each failed one is a [`Mismatch`], where the reference stops at the first;
//! a case passes or fails the same either way.

use std::fmt::Display;

use serde_json::{Map, Value as Json, json};

use super::compare::{UNDEFINED, json_is, shown, shown_value, to_equal, truthy, value_is};
use super::{Backend, Mismatch, Stores};
use std::sync::Arc;

use crate::engine::{CommandOptions, Engine, Program, RuntimeError};
use crate::instance::Instance;

/// Why a case could not run to its checks: an engine or store error, or a malformed case.
pub(super) type Failure = String;

fn failure(e: impl Display) -> Failure {
    e.to_string()
}

/// One case's run: the engines it builds and the stores they were given, cleared afterwards.
pub(super) struct Run<'a> {
    pub(super) backend: &'a Backend,
    pub(super) program: &'a Arc<Program>,
    pub(super) stores: Stores,
}

impl Run<'_> {
    /// A fresh engine, as the harness builds one per case (two for a persistence case).
    fn engine(&mut self, context: Json) -> Result<Engine, Failure> {
        let (engine, stores) = self
            .backend
            .engine_with_stores(self.program, &context)
            .map_err(failure)?;
        self.stores.extend(stores);
        Ok(engine)
    }

    /// Remove what the case wrote (SQL backends; each store is bound to the case's tenant).
    pub(super) async fn clean_up(&mut self) -> Result<(), Failure> {
        for store in self.stores.drain(..) {
            store.clear().await.map_err(failure)?;
        }
        Ok(())
    }
}

/// The failed checks so far.
#[derive(Default)]
struct Checks(Vec<Mismatch>);

impl Checks {
    fn expect(&mut self, ok: bool, what: impl Into<String>, expected: Json, actual: Json) {
        if !ok {
            self.0.push(Mismatch {
                what: what.into(),
                expected,
                actual,
            });
        }
    }
}

fn undefined() -> Json {
    Json::String(UNDEFINED.to_owned())
}

fn obj(value: &Json) -> Map<String, Json> {
    value.as_object().cloned().unwrap_or_default()
}

fn text<'j>(value: &'j Json, key: &str) -> &'j str {
    value[key].as_str().unwrap_or_default()
}

/// `tc.context || {}`: a missing or falsy context is the empty object.
fn context(tc: &Json) -> Json {
    match tc.get("context") {
        Some(c) if truthy(Some(c)) => c.clone(),
        _ => Json::Null,
    }
}

/// The expected text a `formatted` string must contain.
fn contained(expected: &Json, key: &str) -> String {
    match expected.get(key) {
        Some(Json::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// A create's outcome as the reference's `createInstance` gives it: the instance, or nothing
/// when a rule refused it (a missing required property, a blocking constraint).
fn created(result: Result<Instance, RuntimeError>) -> Result<Option<Instance>, Failure> {
    match result {
        Ok(instance) => Ok(Some(instance)),
        Err(RuntimeError::MissingRequired { .. } | RuntimeError::ConstraintsFailed { .. }) => {
            Ok(None)
        }
        Err(e) => Err(failure(e)),
    }
}

/// Seed `setup.createInstance` (when `single`) and then `setup.createInstances[]`.
async fn seed(engine: &Engine, setup: Option<&Json>, single: bool) -> Result<(), Failure> {
    let Some(setup) = setup else { return Ok(()) };
    let one = setup.get("createInstance").filter(|_| single);
    let many = setup.get("createInstances").and_then(Json::as_array);
    for instance in one.into_iter().chain(many.into_iter().flatten()) {
        created(
            engine
                .create_instance(text(instance, "entity"), obj(&instance["data"]))
                .await,
        )?;
    }
    Ok(())
}

/// A command case: seed, warm up, run the command, then check its result, events and the
/// instance's state.
pub(super) async fn command(run: &mut Run<'_>, tc: &Json) -> Result<Vec<Mismatch>, Failure> {
    let engine = run.engine(context(tc))?;
    seed(&engine, tc.get("setup"), true).await?;
    let cmd = &tc["command"];
    let name = text(cmd, "name");
    let override_requests = match cmd.get("overrideRequests") {
        None | Some(Json::Null) => Vec::new(),
        Some(requests) => serde_json::from_value(requests.clone())
            .map_err(|e| format!("the command's `overrideRequests`: {e}"))?,
    };
    let opts = CommandOptions {
        entity_name: cmd["entityName"].as_str().map(str::to_owned),
        instance_id: cmd["instanceId"].as_str().map(str::to_owned),
        override_requests,
        ..CommandOptions::default()
    };
    let input = obj(&cmd["input"]);
    for _ in 0..cmd["warmupCount"].as_u64().unwrap_or(0) {
        engine
            .run_command(name, input.clone(), opts.clone())
            .await
            .map_err(failure)?;
    }
    let r = engine
        .run_command(name, input, opts.clone())
        .await
        .map_err(failure)?;
    let Some(ex) = tc.get("expectedResult") else {
        return Err("the case has a `command` but no `expectedResult`".to_owned());
    };
    let mut checks = Checks::default();

    let what = match &r.error {
        Some(error) => format!("expectedResult.success (the command's error: {error:?})"),
        None => "expectedResult.success".to_owned(),
    };
    let success = Json::Bool(r.success);
    checks.expect(
        json_is(Some(&success), ex.get("success")),
        what,
        shown(ex.get("success")),
        success,
    );
    for (key, actual) in [("error", &r.error), ("deniedBy", &r.denied_by)] {
        if truthy(ex.get(key)) {
            let actual = actual.clone().map(Json::String);
            checks.expect(
                json_is(actual.as_ref(), ex.get(key)),
                format!("expectedResult.{key}"),
                shown(ex.get(key)),
                shown(actual.as_ref()),
            );
        }
    }

    if let Some(g) = tc.get("expectedGuardFailure").filter(|g| truthy(Some(g))) {
        match &r.guard_failure {
            None => checks.expect(false, "expectedGuardFailure", g.clone(), undefined()),
            Some(f) => {
                let index = json!(f.index);
                checks.expect(
                    json_is(Some(&index), g.get("index")),
                    "expectedGuardFailure.index",
                    shown(g.get("index")),
                    index,
                );
                let part = contained(g, "expression");
                checks.expect(
                    f.formatted.contains(&part),
                    "expectedGuardFailure.expression (contained in guardFailure.formatted)",
                    Json::String(part),
                    Json::String(f.formatted.clone()),
                );
            }
        }
    }

    if let Some(p) = tc.get("expectedPolicyDenial").filter(|p| truthy(Some(p))) {
        match &r.policy_denial {
            None => checks.expect(false, "expectedPolicyDenial", p.clone(), undefined()),
            Some(d) => {
                let name = Json::String(d.policy_name.clone());
                checks.expect(
                    json_is(Some(&name), p.get("policyName")),
                    "expectedPolicyDenial.policyName",
                    shown(p.get("policyName")),
                    name,
                );
                let part = contained(p, "expression");
                checks.expect(
                    d.formatted.contains(&part),
                    "expectedPolicyDenial.expression (contained in policyDenial.formatted)",
                    Json::String(part),
                    Json::String(d.formatted.clone()),
                );
                // `resolved` must be an array: the type guarantees it.
            }
        }
    }

    if let Some(c) = tc
        .get("expectedConcurrencyConflict")
        .filter(|c| truthy(Some(c)))
    {
        match &r.concurrency_conflict {
            None => checks.expect(false, "expectedConcurrencyConflict", c.clone(), undefined()),
            Some(conflict) => {
                let actual = serde_json::to_value(conflict).map_err(failure)?;
                for key in [
                    "entityType",
                    "entityId",
                    "expectedVersion",
                    "actualVersion",
                    "conflictCode",
                ] {
                    checks.expect(
                        json_is(actual.get(key), c.get(key)),
                        format!("expectedConcurrencyConflict.{key}"),
                        shown(c.get(key)),
                        shown(actual.get(key)),
                    );
                }
            }
        }
    }

    if let Some(expected) = ex.get("result") {
        checks.expect(
            json_is(r.result.as_ref(), Some(expected)),
            "expectedResult.result",
            expected.clone(),
            shown(r.result.as_ref()),
        );
    }

    // An absent `emittedEvents` expects none (the reference would throw).
    let expected_events = ex["emittedEvents"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    if r.emitted_events.len() != expected_events.len() {
        checks.expect(
            false,
            format!(
                "expectedResult.emittedEvents ({} expected, {} emitted)",
                expected_events.len(),
                r.emitted_events.len()
            ),
            Json::Array(expected_events.to_vec()),
            serde_json::to_value(&r.emitted_events).map_err(failure)?,
        );
    } else {
        for (i, (a, e)) in r.emitted_events.iter().zip(expected_events).enumerate() {
            let at = format!("expectedResult.emittedEvents[{i}]");
            for (key, actual) in [
                ("name", Json::String(a.name.clone())),
                ("channel", Json::String(a.channel.clone())),
                ("timestamp", a.timestamp.clone()),
            ] {
                checks.expect(
                    json_is(Some(&actual), e.get(key)),
                    format!("{at}.{key}"),
                    shown(e.get(key)),
                    actual,
                );
            }
            if let Some(payload) = e.get("payload") {
                let actual = Json::Object(a.payload.clone());
                checks.expect(
                    to_equal(Some(&actual), Some(payload)),
                    format!("{at}.payload"),
                    payload.clone(),
                    actual,
                );
            }
        }
    }

    if let (Some(state), Some(entity), Some(id)) = (
        tc.get("expectedInstanceState").filter(|s| truthy(Some(s))),
        opts.entity_name.as_deref().filter(|e| !e.is_empty()),
        opts.instance_id.as_deref().filter(|i| !i.is_empty()),
    ) {
        let actual = engine
            .get_instance(entity, id)
            .await
            .map_err(failure)?
            .map(Json::Object);
        checks.expect(
            to_equal(actual.as_ref(), Some(state)),
            "expectedInstanceState",
            state.clone(),
            shown(actual.as_ref()),
        );
    }
    Ok(checks.0)
}

/// A computed case: seed, then `Object.is` of the computed value and `expectedValue`.
pub(super) async fn computed(run: &mut Run<'_>, tc: &Json) -> Result<Vec<Mismatch>, Failure> {
    let engine = run.engine(context(tc))?;
    seed(&engine, tc.get("setup"), true).await?;
    let c = &tc["computedProperty"];
    let value = engine
        .evaluate_computed(
            text(c, "entity"),
            text(c, "instanceId"),
            text(c, "property"),
        )
        .await
        .map_err(failure)?;
    let mut checks = Checks::default();
    checks.expect(
        value_is(&value, tc.get("expectedValue")),
        "expectedValue",
        shown(tc.get("expectedValue")),
        shown_value(&value),
    );
    Ok(checks.0)
}

/// A create case: the created instance (unmasked) `toEqual` `expectedInstance`.
pub(super) async fn create(run: &mut Run<'_>, tc: &Json) -> Result<Vec<Mismatch>, Failure> {
    let engine = run.engine(Json::Null)?;
    let c = &tc["createInstance"];
    let created = created(
        engine
            .create_instance(text(c, "entity"), obj(&c["data"]))
            .await,
    )?
    .map(|instance| Json::Object(instance.to_json()));
    let mut checks = Checks::default();
    checks.expect(
        to_equal(created.as_ref(), tc.get("expectedInstance")),
        "expectedInstance",
        shown(tc.get("expectedInstance")),
        shown(created.as_ref()),
    );
    Ok(checks.0)
}

/// A persistence case: create on one engine, snapshot, restore into a second engine, read back.
pub(super) async fn persistence(run: &mut Run<'_>, tc: &Json) -> Result<Vec<Mismatch>, Failure> {
    let p = &tc["persistenceTest"];
    let entity = text(p, "entity");
    let first = run.engine(Json::Null)?;
    created(first.create_instance(entity, obj(&p["createData"])).await)?;
    let snapshot = first.snapshot().await.map_err(failure)?;
    let second = run.engine(Json::Null)?;
    second.restore(&snapshot).await.map_err(failure)?;
    let actual = second
        .get_instance(entity, text(&p["createData"], "id"))
        .await
        .map_err(failure)?
        .map(Json::Object);
    let mut checks = Checks::default();
    checks.expect(
        to_equal(actual.as_ref(), p.get("expectedAfterRestore")),
        "persistenceTest.expectedAfterRestore",
        shown(p.get("expectedAfterRestore")),
        shown(actual.as_ref()),
    );
    Ok(checks.0)
}

/// A constraint case: seed `setup.createInstances`, then the failed constraints of `data`,
/// in declaration order.
pub(super) async fn constraint(run: &mut Run<'_>, tc: &Json) -> Result<Vec<Mismatch>, Failure> {
    let engine = run.engine(Json::Null)?;
    seed(&engine, tc.get("setup"), false).await?;
    let failures = engine
        .check_constraints(text(tc, "entity"), &obj(&tc["data"]))
        .await
        .map_err(failure)?;
    let expected = tc["expectedConstraintFailures"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    let mut checks = Checks::default();
    if failures.len() != expected.len() {
        checks.expect(
            false,
            format!(
                "expectedConstraintFailures ({} expected, {} failed)",
                expected.len(),
                failures.len()
            ),
            Json::Array(expected.to_vec()),
            serde_json::to_value(&failures).map_err(failure)?,
        );
        return Ok(checks.0);
    }
    for (i, (a, e)) in failures.iter().zip(expected).enumerate() {
        let at = format!("expectedConstraintFailures[{i}]");
        let name = Json::String(a.constraint_name.clone());
        checks.expect(
            json_is(Some(&name), e.get("constraintName")),
            format!("{at}.constraintName"),
            shown(e.get("constraintName")),
            name,
        );
        // The expected `expression`, else its `formatted`.
        let part = match e.get("expression") {
            Some(_) => contained(e, "expression"),
            None => contained(e, "formatted"),
        };
        checks.expect(
            a.formatted.contains(&part),
            format!("{at}.expression (contained in formatted)"),
            Json::String(part),
            Json::String(a.formatted.clone()),
        );
    }
    Ok(checks.0)
}
