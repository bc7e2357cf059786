//! Evaluator tests. The expected values were checked against the reference runtime
//! (`@angriff36/manifest` 3.4.23, `Engine.evaluateExpression`).

use std::cell::{Cell, RefCell};

use serde_json::json;

use super::*;

/// The conformance harness's host: a fixed clock and `test-id-N` ids.
#[derive(Default)]
pub(crate) struct TestHost {
    pub(crate) ids: Cell<u32>,
    pub(crate) rows: RefCell<Vec<Value>>,
}

impl Host for TestHost {
    fn now(&self) -> f64 {
        1_000_000_000_000.0
    }

    fn generate_id(&self) -> String {
        self.ids.set(self.ids.get() + 1);
        format!("test-id-{}", self.ids.get())
    }

    fn has_permission(&self, action: &str, target: Option<&str>) -> bool {
        action == "read" && target.is_none_or(|t| t == "Doc")
    }

    fn relationship(
        &self,
        entity: &str,
        instance: &Object,
        property: &str,
    ) -> Option<Result<Value, EvalError>> {
        (entity == "Order" && property == "customer").then(|| {
            let id = instance.get("customerId").cloned().unwrap_or_default();
            Ok(Value::from(
                json!({"id": id.to_js_string(), "status": "active"}),
            ))
        })
    }

    fn instances(&self, entity: &str) -> Result<Vec<Value>, EvalError> {
        match entity {
            "Line" => Ok(self.rows.borrow().clone()),
            _ => Err(EvalError::Unsupported {
                what: format!("rows of `{entity}`"),
            }),
        }
    }
}

/// Parse an expression from `json!`.
pub(crate) fn expr(j: serde_json::Value) -> Expr {
    serde_json::from_value(j).expect("valid expression")
}

pub(crate) fn lit(v: serde_json::Value) -> serde_json::Value {
    let value = match v {
        serde_json::Value::String(s) => json!({"kind": "string", "value": s}),
        serde_json::Value::Number(n) => json!({"kind": "number", "value": n}),
        serde_json::Value::Bool(b) => json!({"kind": "boolean", "value": b}),
        _ => json!({"kind": "null"}),
    };
    json!({"kind": "literal", "value": value})
}

pub(crate) fn id(name: &str) -> serde_json::Value {
    json!({"kind": "identifier", "name": name})
}

pub(crate) fn member(object: serde_json::Value, property: &str) -> serde_json::Value {
    json!({"kind": "member", "object": object, "property": property})
}

pub(crate) fn bin(op: &str, l: serde_json::Value, r: serde_json::Value) -> serde_json::Value {
    json!({"kind": "binary", "operator": op, "left": l, "right": r})
}

pub(crate) fn call(name: &str, args: Vec<serde_json::Value>) -> serde_json::Value {
    json!({"kind": "call", "callee": id(name), "args": args})
}

pub(crate) fn lambda(param: &str, body: serde_json::Value) -> serde_json::Value {
    json!({"kind": "lambda", "params": [param], "body": body})
}

/// A scope binding each `(name, json)`.
pub(crate) fn scope_of(vars: &[(&str, serde_json::Value)]) -> Scope<'static> {
    let mut scope = Scope::new();
    for (name, v) in vars {
        scope.set(name.to_string(), Value::from(v));
    }
    scope
}

fn run(e: serde_json::Value, scope: &Scope<'_>) -> Value {
    eval(&expr(e), scope, &TestHost::default()).expect("evaluates")
}

fn num(n: f64) -> Value {
    Value::Number(n)
}

#[test]
fn identifiers_resolve_like_the_reference() {
    let scope = scope_of(&[("amount", json!(5)), ("null", json!("shadowed"))]);
    assert_eq!(run(id("amount"), &scope), num(5.0));
    assert_eq!(run(id("true"), &scope), Value::Bool(true));
    assert_eq!(run(id("false"), &scope), Value::Bool(false));
    // A binding wins over the literal names.
    assert_eq!(run(id("null"), &scope), Value::from("shadowed"));
    // `input` is not bound: `input.amount` is undefined, not an error.
    assert_eq!(run(member(id("input"), "amount"), &scope), Value::Undefined);
}

#[test]
fn member_access_never_throws() {
    let scope = scope_of(&[
        (
            "self",
            json!({"tags": ["a", "b"], "name": "Soup", "owner": null}),
        ),
        ("n", json!(null)),
    ]);
    let self_ = || id("self");
    assert_eq!(run(member(id("n"), "x"), &scope), Value::Undefined);
    assert_eq!(run(member(id("missing"), "x"), &scope), Value::Undefined);
    assert_eq!(
        run(member(member(self_(), "owner"), "id"), &scope),
        Value::Undefined
    );
    assert_eq!(
        run(member(member(self_(), "tags"), "length"), &scope),
        num(2.0)
    );
    assert_eq!(
        run(member(member(self_(), "tags"), "1"), &scope),
        Value::from("b")
    );
    assert_eq!(
        run(member(member(self_(), "tags"), "01"), &scope),
        Value::Undefined
    );
    assert_eq!(
        run(member(member(self_(), "tags"), "2"), &scope),
        Value::Undefined
    );
    // Strings are not objects in the reference: no `.length` (use `length(s)`).
    assert_eq!(
        run(member(member(self_(), "name"), "length"), &scope),
        Value::Undefined
    );
    // Owned objects and arrays (literals) work the same way.
    let arr = json!({"kind": "array", "elements": [lit(json!(1)), lit(json!(2))]});
    assert_eq!(run(member(arr.clone(), "length"), &scope), num(2.0));
    assert_eq!(run(member(arr, "0"), &scope), num(1.0));
    let obj = json!({"kind": "object", "properties": [{"key": "k", "value": lit(json!("v"))}]});
    assert_eq!(run(member(obj.clone(), "k"), &scope), Value::from("v"));
    assert_eq!(run(member(obj, "toString"), &scope), Value::Undefined);
}

#[test]
fn relationships_go_through_the_host() {
    let scope = scope_of(&[(
        "self",
        json!({"id": "o1", "_entity": "Order", "customerId": "c9", "customer": "raw"}),
    )]);
    let status = member(member(id("self"), "customer"), "status");
    assert_eq!(run(status, &scope), Value::from("active"));
    assert_eq!(
        run(member(member(id("self"), "customer"), "id"), &scope),
        Value::from("c9")
    );
    // Without `_entity` the field is read as it is.
    let plain = scope_of(&[("self", json!({"id": "o1", "customer": "raw"}))]);
    assert_eq!(
        run(member(id("self"), "customer"), &plain),
        Value::from("raw")
    );
}

#[test]
fn operators_follow_javascript() {
    let scope = scope_of(&[
        ("s", json!("5")),
        ("n", json!(5)),
        ("z", json!(0)),
        ("e", json!("")),
        ("arr", json!(["pending", 2, null])),
        ("nothing", json!(null)),
    ]);
    let cases = [
        (bin("==", id("s"), id("n")), Value::Bool(true)),
        (bin("is", id("z"), lit(json!(false))), Value::Bool(true)),
        (
            bin("!=", id("nothing"), id("undefinedName")),
            Value::Bool(false),
        ),
        (bin("==", id("e"), id("z")), Value::Bool(true)),
        (bin("==", id("nothing"), id("z")), Value::Bool(false)),
        (bin("+", id("s"), id("n")), Value::from("55")),
        (bin("+", id("n"), id("n")), num(10.0)),
        (bin("+", id("nothing"), id("n")), num(5.0)),
        (bin("+", id("arr"), id("n")), Value::from("pending,2,5")),
        (
            bin("+", lit(json!("a")), id("missing")),
            Value::from("aundefined"),
        ),
        (bin("-", id("s"), lit(json!(true))), num(4.0)),
        (bin("*", id("e"), id("n")), num(0.0)),
        (bin("/", id("n"), id("z")), num(f64::INFINITY)),
        (bin("%", lit(json!(-7)), lit(json!(3))), num(-1.0)),
        (
            bin("<", lit(json!("10")), lit(json!("9"))),
            Value::Bool(true),
        ),
        (
            bin("<", lit(json!("10")), lit(json!(9))),
            Value::Bool(false),
        ),
        (bin(">=", id("nothing"), id("z")), Value::Bool(true)),
        (bin("<=", id("missing"), id("z")), Value::Bool(false)),
        (bin(">", lit(json!("abc")), id("z")), Value::Bool(false)),
        (bin("and", id("n"), id("s")), Value::Bool(true)),
        (bin("&&", id("n"), id("e")), Value::Bool(false)),
        (bin("or", id("e"), id("z")), Value::Bool(false)),
        (bin("||", id("e"), id("arr")), Value::Bool(true)),
        (
            bin("in", lit(json!("pending")), id("arr")),
            Value::Bool(true),
        ),
        (bin("in", lit(json!("2")), id("arr")), Value::Bool(false)),
        (
            bin("in", lit(json!("ell")), lit(json!("hello"))),
            Value::Bool(true),
        ),
        (
            bin("in", lit(json!(5)), lit(json!("a5"))),
            Value::Bool(true),
        ),
        (bin("in", lit(json!(5)), id("n")), Value::Bool(false)),
        (
            bin("contains", id("arr"), lit(json!(null))),
            Value::Bool(true),
        ),
        (
            bin("contains", lit(json!("hello")), lit(json!("lo"))),
            Value::Bool(true),
        ),
    ];
    for (e, want) in cases {
        let shown = expr(e.clone()).to_string();
        assert_eq!(run(e, &scope), want, "{shown}");
    }
    let nan = run(bin("-", lit(json!("x")), id("n")), &scope);
    assert!(nan.as_f64().is_some_and(f64::is_nan));
}

#[test]
fn same_binding_is_the_same_object() {
    let scope = scope_of(&[
        ("items", json!([1])),
        ("other", json!([1])),
        ("nan", json!(null)),
    ]);
    assert_eq!(
        run(bin("==", id("items"), id("items")), &scope),
        Value::Bool(true)
    );
    assert_eq!(
        run(bin("==", id("items"), id("other")), &scope),
        Value::Bool(false)
    );
    let empty = || json!({"kind": "array", "elements": []});
    assert_eq!(run(bin("==", empty(), empty()), &scope), Value::Bool(false));
    assert_eq!(
        run(bin("!=", id("items"), id("items")), &scope),
        Value::Bool(false)
    );
    let mut nan_scope = Scope::new();
    nan_scope.set("x", Value::Number(f64::NAN));
    assert_eq!(
        run(bin("==", id("x"), id("x")), &nan_scope),
        Value::Bool(false)
    );
}

#[test]
fn unary_and_conditional() {
    let scope = scope_of(&[("done", json!(true)), ("s", json!("3"))]);
    let un = |op: &str, e| json!({"kind": "unary", "operator": op, "operand": e});
    assert_eq!(run(un("not", id("done")), &scope), Value::Bool(false));
    assert_eq!(run(un("!", id("missing")), &scope), Value::Bool(true));
    assert_eq!(run(un("-", id("s")), &scope), num(-3.0));
    let neg_null = run(un("-", lit(json!(null))), &scope);
    assert!(
        neg_null
            .as_f64()
            .is_some_and(|n| n == 0.0 && n.is_sign_negative())
    );
    let cond = |c| {
        json!({"kind": "conditional", "condition": c,
               "consequent": lit(json!("yes")), "alternate": lit(json!("no"))})
    };
    assert_eq!(run(cond(id("done")), &scope), Value::from("yes"));
    assert_eq!(run(cond(lit(json!(""))), &scope), Value::from("no"));
    assert_eq!(
        run(cond(json!({"kind": "array", "elements": []})), &scope),
        Value::from("yes")
    );
}

#[test]
fn both_sides_of_and_or_are_evaluated() {
    let host = TestHost::default();
    let e = expr(bin("or", lit(json!(true)), call("uuid", vec![])));
    assert_eq!(eval(&e, &Scope::new(), &host).unwrap(), Value::Bool(true));
    assert_eq!(host.ids.get(), 1);
}

#[test]
fn calls_builtins_methods_and_unknown_functions() {
    let host = TestHost::default();
    let scope = scope_of(&[
        ("tags", json!(["published", "x"])),
        ("s", json!("published")),
    ]);
    let method = |recv, name: &str, args: Vec<serde_json::Value>| json!({"kind": "call", "callee": member(recv, name), "args": args});
    let ev = |e| eval(&expr(e), &scope, &host).unwrap();
    assert_eq!(
        ev(method(
            id("tags"),
            "contains",
            vec![lit(json!("published"))]
        )),
        Value::Bool(true)
    );
    assert_eq!(
        ev(method(id("tags"), "contains", vec![lit(json!("draft"))])),
        Value::Bool(false)
    );
    // Only arrays have methods in the reference.
    assert_eq!(
        ev(method(id("s"), "contains", vec![lit(json!("pub"))])),
        Value::Undefined
    );
    assert_eq!(ev(method(id("tags"), "length", vec![])), Value::Undefined);
    let long = lambda("t", bin(">", call("length", vec![id("t")]), lit(json!(1))));
    assert_eq!(
        ev(method(id("tags"), "all", vec![long.clone()])),
        Value::Bool(false)
    );
    assert_eq!(ev(method(id("tags"), "any", vec![long])), Value::Bool(true));
    let empty = json!({"kind": "array", "elements": []});
    assert_eq!(
        ev(method(empty.clone(), "all", vec![lambda("t", id("t"))])),
        Value::Bool(true)
    );
    assert_eq!(
        ev(method(empty, "any", vec![lambda("t", id("t"))])),
        Value::Bool(false)
    );
    // An unknown function is undefined, after its arguments ran.
    let before = host.ids.get();
    assert_eq!(
        ev(call("updateLowStockFlag", vec![call("uuid", vec![])])),
        Value::Undefined
    );
    assert_eq!(host.ids.get(), before + 1);
    assert_eq!(ev(call("now", vec![])), num(1e12));
    assert_eq!(
        ev(call("uuid", vec![])),
        Value::from(format!("test-id-{}", before + 2))
    );
    assert_eq!(
        ev(call("hasPermission", vec![lit(json!("read"))])),
        Value::Bool(true)
    );
    assert_eq!(
        ev(call(
            "hasPermission",
            vec![lit(json!("read")), lit(json!("Other"))]
        )),
        Value::Bool(false)
    );
    assert_eq!(
        ev(call("hasPermission", vec![lit(json!(1))])),
        Value::Bool(false)
    );
    // A lambda called directly; a lambda anywhere else is undefined.
    let direct = json!({"kind": "call", "callee": lambda("x", bin("*", id("x"), lit(json!(2)))), "args": [lit(json!(21))]});
    assert_eq!(ev(direct), num(42.0));
    assert_eq!(ev(lambda("x", id("x"))), Value::Undefined);
}

#[test]
fn array_and_object_literals() {
    let scope = scope_of(&[("a", json!(1))]);
    let e = json!({"kind": "object", "properties": [
        {"key": "x", "value": id("a")},
        {"key": "list", "value": {"kind": "array", "elements": [id("a"), id("missing")]}},
        {"key": "x", "value": lit(json!("last"))}]});
    let v = run(e, &scope);
    assert_eq!(v.to_json(), Some(json!({"x": "last", "list": [1, null]})));
}

#[test]
fn aggregates_count_and_sum_rows() {
    let host = TestHost::default();
    host.rows.replace(vec![
        Value::from(json!({"order": "o1", "qty": 2})),
        Value::from(json!({"order": "o1", "qty": 3})),
        Value::from(json!({"order": "o2", "qty": 7})),
        Value::from(json!({"order": "o1", "qty": "4"})),
    ]);
    let scope = scope_of(&[("payload", json!({"orderId": "o1"}))]);
    let agg = |op: &str, entity: &str| {
        expr(
            json!({"kind": "aggregate", "op": op, "entity": entity, "field": "qty",
            "predicates": [{"field": "order", "value": member(id("payload"), "orderId")}]}),
        )
    };
    assert_eq!(
        eval(&agg("count", "Line"), &scope, &host).unwrap(),
        num(3.0)
    );
    assert_eq!(eval(&agg("sum", "Line"), &scope, &host).unwrap(), num(5.0));
    let err = eval(&agg("count", "Nope"), &scope, &host).unwrap_err();
    assert!(matches!(err, EvalError::Unsupported { .. }), "{err}");
}

#[test]
fn scopes_layer_and_borrow() {
    let fields: Object = [
        ("status".to_owned(), Value::from("open")),
        ("qty".to_owned(), num(1.0)),
    ]
    .into_iter()
    .collect();
    let instance = Value::Object(fields.clone());
    let mut scope = Scope::with_fields(&fields);
    scope.set_ref("self", &instance);
    scope.set("qty", num(9.0)); // an input parameter wins over the property
    assert_eq!(scope.get("status"), Some(&Value::from("open")));
    assert_eq!(scope.get("qty"), Some(&num(9.0)));
    assert!(scope.contains("self"));
    let mut child = scope.child();
    child.set("status", Value::from("inner"));
    assert_eq!(child.get("status"), Some(&Value::from("inner")));
    assert_eq!(child.get("qty"), Some(&num(9.0)));
    assert_eq!(child.get("nope"), None);
    let truthy = eval_truthy(
        &expr(bin("==", member(id("self"), "status"), lit(json!("open")))),
        &scope,
        &TestHost::default(),
    );
    assert!(truthy.unwrap());
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let mut e = Expr::Identifier { name: "x".into() };
    for _ in 0..(MAX_DEPTH + 10) {
        e = Expr::Unary {
            operator: UnaryOp::Not,
            operand: Box::new(e),
        };
    }
    let err = eval(&e, &Scope::new(), &TestHost::default()).unwrap_err();
    assert!(matches!(err, EvalError::TooDeep { .. }));
    assert_eq!(
        err.to_string(),
        format!("expression nesting exceeds {MAX_DEPTH} levels")
    );
}

#[test]
fn errors_name_what_was_wrong() {
    let err = eval(
        &expr(call(
            "replace",
            vec![lit(json!("abc")), lit(json!(5)), lit(json!("x"))],
        )),
        &Scope::new(),
        &TestHost::default(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`replace` cannot take number as its second argument"
    );
}

/// The computed properties of fixture 14 (operator-equality), with `context = {}`.
#[test]
fn fixture_14_loose_equality() {
    let scope = scope_of(&[("context", json!({}))]);
    let missing = || member(id("context"), "missing");
    let null = || lit(json!(null));
    let cases = [
        (
            bin("==", missing(), null()),
            true,
            "context.missing == null",
        ),
        (
            bin("!=", missing(), null()),
            false,
            "context.missing != null",
        ),
        (
            bin("==", null(), missing()),
            true,
            "null == context.missing",
        ),
        (
            bin("==", lit(json!("5")), lit(json!(5))),
            true,
            r#""5" == 5"#,
        ),
        (
            bin("==", lit(json!(0)), lit(json!(false))),
            true,
            "0 == false",
        ),
        (
            bin("is", missing(), null()),
            true,
            "context.missing is null",
        ),
    ];
    for (e, want, text) in cases {
        let e = expr(e);
        assert_eq!(e.to_string(), text);
        assert_eq!(
            eval(&e, &scope, &TestHost::default()).unwrap(),
            Value::Bool(want),
            "{text}"
        );
    }
}
