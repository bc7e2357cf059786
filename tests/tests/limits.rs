//! Evaluation limits (string bytes, array length, steps), deep IR and input refused up front,
//! computed properties evaluated once, and `matches` with a pattern the regex engine cannot
//! compile: each ends the operation with a typed error and writes nothing.

use std::sync::Arc;

use manifest_runtime::{Engine, Ir, RuntimeError};
use serde_json::{Map, Value as Json, json};

fn data(v: Json) -> Map<String, Json> {
    v.as_object().unwrap().clone()
}
use manifest_runtime::eval::EvalError;
use manifest_runtime::value::Value;
use manifest_runtime::{CommandOptions, IrError, Limit, Limits};
use std::sync::atomic::{AtomicUsize, Ordering};

fn id(name: &str) -> Json {
    json!({"kind": "identifier", "name": name})
}
fn member(object: Json, property: &str) -> Json {
    json!({"kind": "member", "object": object, "property": property})
}
fn this(property: &str) -> Json {
    member(id("self"), property)
}
fn string(s: &str) -> Json {
    json!({"kind": "literal", "value": {"kind": "string", "value": s}})
}
fn call(name: &str, args: Vec<Json>) -> Json {
    json!({"kind": "call", "callee": id(name), "args": args})
}
fn binary(operator: &str, left: Json, right: Json) -> Json {
    json!({"kind": "binary", "operator": operator, "left": left, "right": right})
}
fn mutate(target: &str, expression: Json) -> Json {
    json!({"kind": "mutate", "target": target, "expression": expression})
}

/// An entity `Doc {a, b: string, n: number}` whose command `run` runs `actions`.
fn doc_ir(actions: Vec<Json>) -> Ir {
    Ir::from_json(json!({
        "version": "1.0",
        "entities": [{
            "name": "Doc",
            "properties": [
                {"name": "a", "type": {"name": "string"}},
                {"name": "b", "type": {"name": "string"}},
                {"name": "n", "type": {"name": "number"}}
            ],
            "commands": ["run"]
        }],
        "commands": [{
            "name": "run", "entity": "Doc",
            "parameters": [{"name": "s", "type": {"name": "string"}, "required": false}],
            "actions": actions
        }]
    }))
    .unwrap()
}

async fn doc_engine(actions: Vec<Json>, limits: Limits, a: &str, b: &str) -> Engine {
    let engine = Engine::builder(doc_ir(actions))
        .limits(limits)
        .build()
        .unwrap();
    engine
        .create_instance("Doc", data(json!({"id": "d", "a": a, "b": b, "n": 0})))
        .await
        .unwrap();
    engine
}

async fn run(engine: &Engine, input: Json) -> Result<Json, RuntimeError> {
    let result = engine
        .run_command("run", data(input), CommandOptions::on("Doc", "d"))
        .await?;
    assert!(result.success, "{result:?}");
    Ok(engine
        .get_instance("Doc", "d")
        .await
        .unwrap()
        .unwrap()
        .into())
}

fn limit_of(result: Result<Json, RuntimeError>) -> (Limit, u64, u64) {
    match result {
        Err(RuntimeError::LimitExceeded { exceeded, .. }) => {
            (exceeded.limit, exceeded.max, exceeded.actual)
        }
        other => panic!("expected LimitExceeded, got {other:?}"),
    }
}

/// `length(replace(a, "", b))` on two 100,000-character strings would need 10^10 bytes:
/// the length is worked out first and refused, and nothing is written.
#[tokio::test]
async fn replace_is_checked_before_it_allocates() {
    let (a, b) = ("x".repeat(100_000), "y".repeat(100_000));
    // `n` is set from the original `a`, then `a` changes: neither may be written.
    let actions = vec![
        mutate(
            "n",
            call(
                "length",
                vec![call("replace", vec![this("a"), string(""), this("b")])],
            ),
        ),
        mutate("a", string("changed")),
    ];
    let engine = doc_engine(actions, Limits::default(), &a, &b).await;
    let (limit, max, actual) = limit_of(run(&engine, json!({})).await);
    assert_eq!(limit, Limit::StringBytes);
    assert_eq!(max, 16 << 20);
    assert_eq!(actual, 100_001 * 100_000 + 100_000);
    let stored = engine.get_instance("Doc", "d").await.unwrap().unwrap();
    assert_eq!(stored["n"], json!(0));
    assert_eq!(stored["a"], json!(a), "nothing written");
    // Within the limit, the same command runs.
    let engine = doc_engine(
        vec![mutate(
            "n",
            call(
                "length",
                vec![call("replace", vec![this("a"), string(""), this("b")])],
            ),
        )],
        Limits::default(),
        "xyz",
        "--",
    )
    .await;
    assert_eq!(run(&engine, json!({})).await.unwrap()["n"], json!(11));
}

/// 40 doublings of a 1 KB string (`a = a + a`) stop at the limit, writing nothing.
#[tokio::test]
async fn doubling_stops_at_the_string_limit() {
    let doubling = mutate("a", binary("+", this("a"), this("a")));
    let engine = doc_engine(vec![doubling; 40], Limits::default(), &"x".repeat(1024), "").await;
    let (limit, _, actual) = limit_of(run(&engine, json!({})).await);
    assert_eq!(limit, Limit::StringBytes);
    assert_eq!(actual, 1024 << 15);
    let stored = engine.get_instance("Doc", "d").await.unwrap().unwrap();
    assert_eq!(stored["a"].as_str().unwrap().len(), 1024, "nothing written");
    // A lower limit is the engine's to set.
    let small = Limits::default().with_max_string_bytes(4096);
    let doubling = mutate("a", binary("+", this("a"), this("a")));
    let engine = doc_engine(vec![doubling; 3], small, &"x".repeat(1024), "").await;
    assert_eq!(limit_of(run(&engine, json!({})).await).2, 8192);
}

/// The step budget counts nodes and array elements; `split` is checked against the
/// array limit before it builds its parts.
#[tokio::test]
async fn steps_and_array_length() {
    // count_of(split(s, ","), (x) => x == "a"): about 4 steps an element.
    let lambda =
        json!({"kind": "lambda", "params": ["x"], "body": binary("==", id("x"), string("a"))});
    let counting = vec![mutate(
        "n",
        call(
            "count_of",
            vec![call("split", vec![id("s"), string(",")]), lambda],
        ),
    )];
    let input = json!({"s": vec!["a"; 1000].join(",")});
    let engine = doc_engine(counting.clone(), Limits::default(), "", "").await;
    assert_eq!(run(&engine, input.clone()).await.unwrap()["n"], json!(1000));
    let few = Limits::default().with_max_steps(500);
    let engine = doc_engine(counting.clone(), few, "", "").await;
    let (limit, max, _) = limit_of(run(&engine, input.clone()).await);
    assert_eq!((limit, max), (Limit::Steps, 500));
    assert_eq!(
        engine.get_instance("Doc", "d").await.unwrap().unwrap()["n"],
        json!(0)
    );
    let short = Limits::default().with_max_array_len(999);
    let engine = doc_engine(counting, short, "", "").await;
    assert_eq!(
        limit_of(run(&engine, input).await),
        (Limit::ArrayLength, 999, 1000)
    );
}

/// Nested `n` levels deep around `inner`, without recursion.
fn nest(n: usize, inner: Json, wrap: impl Fn(Json) -> Json) -> Json {
    (0..n).fold(inner, |acc, _| wrap(acc))
}

fn command_ir(expression: Json) -> Json {
    let mut ir = json!({
        "version": "1.0",
        "entities": [{"name": "Doc", "properties": [{"name": "n", "type": {"name": "number"}}]}],
        "commands": [{"name": "run", "entity": "Doc", "actions": []}]
    });
    // Built by hand: `json!` copies a value it is given recursively.
    let mut action = Map::new();
    action.insert("kind".into(), json!("mutate"));
    action.insert("target".into(), json!("n"));
    action.insert("expression".into(), expression);
    ir["commands"][0]["actions"] = Json::Array(vec![Json::Object(action)]);
    ir
}

fn not(operand: Json) -> Json {
    let mut e = Map::new();
    e.insert("kind".into(), json!("unary"));
    e.insert("operator".into(), json!("not"));
    e.insert("operand".into(), operand);
    Json::Object(e)
}

fn array(element: Json) -> Json {
    let mut e = Map::new();
    e.insert("kind".into(), json!("array"));
    e.insert("elements".into(), Json::Array(vec![element]));
    Json::Object(e)
}

/// IR nested past 128 JSON levels (1,100 array literals, 1,900 `not`s, 100,000 `not`s)
/// is `IrError::TooDeep`, from a JSON value and from JSON text, on a test thread's
/// stack; IR within the limit loads and runs.
#[tokio::test]
async fn deep_ir_is_refused_up_front() {
    let t = json!({"kind": "literal", "value": {"kind": "boolean", "value": true}});
    for deep in [
        nest(1_100, t.clone(), array),
        nest(1_900, t.clone(), not),
        nest(100_000, t.clone(), not),
    ] {
        match Ir::from_json(command_ir(deep)) {
            Err(IrError::TooDeep { path, limit }) => {
                assert_eq!(limit, 128);
                assert!(
                    path.starts_with("commands[0].actions[0].expression."),
                    "{path}"
                );
            }
            other => panic!("expected TooDeep, got {other:?}"),
        }
    }
    // The same as text: serde_json's own limit, reported the same way.
    let text = format!(
        r#"{{"version": "1.0", "entities": [], "commands": [{{"name": "run", "actions": [{{"kind": "mutate", "target": "n", "expression": {}{}{}}}]}}]}}"#,
        r#"{"kind": "unary", "operator": "not", "operand": "#.repeat(1_900),
        t,
        "}".repeat(1_900)
    );
    assert!(matches!(
        Ir::from_json_str(&text),
        Err(IrError::TooDeep { limit: 128, .. })
    ));
    // 120 `not`s of true (JSON depth 127) load, run and evaluate to true.
    let ir = Ir::from_json(command_ir(nest(120, t.clone(), not))).unwrap();
    let engine = Engine::builder(ir).build().unwrap();
    engine
        .create_instance("Doc", data(json!({"id": "d", "n": 0})))
        .await
        .unwrap();
    let result = engine
        .run_command("run", Map::new(), CommandOptions::on("Doc", "d"))
        .await
        .unwrap();
    assert!(result.success, "{result:?}");
    let stored = engine.get_instance("Doc", "d").await.unwrap().unwrap();
    assert_eq!(stored["n"], json!(true));
    assert!(Ir::from_json(command_ir(nest(125, t, not))).is_err());
}

/// Input nested deeper than 128 levels ends `run_command`, `create_instance` and
/// `update_instance` with `LimitExceeded` before it is converted (which would overflow
/// the stack); 128 levels are accepted.
#[tokio::test]
async fn deep_input_is_refused_up_front() {
    let engine = doc_engine(vec![], Limits::default(), "", "").await;
    let deep = || {
        let mut m = Map::new();
        m.insert("s".into(), nest(3_900, json!(0), |j| Json::Array(vec![j])));
        m
    };
    let depth = |r: Result<(), RuntimeError>| match r {
        Err(RuntimeError::LimitExceeded { exceeded, .. }) => {
            assert_eq!((exceeded.limit, exceeded.max), (Limit::InputDepth, 128));
            exceeded.actual
        }
        other => panic!("expected LimitExceeded, got {other:?}"),
    };
    let ran = engine
        .run_command("run", deep(), CommandOptions::on("Doc", "d"))
        .await;
    assert!(depth(ran.map(drop)) > 128);
    let mut create = deep();
    create.insert("id".into(), json!("e"));
    assert!(depth(engine.create_instance("Doc", create).await.map(drop)) > 128);
    assert!(depth(engine.update_instance("Doc", "d", deep()).await.map(drop)) > 128);
    assert!(engine.get_instance("Doc", "e").await.unwrap().is_none());
    // The map is level 1: a value of 127 nested arrays is 128 levels, and fits.
    let mut fits = Map::new();
    fits.insert("id".into(), json!("f"));
    fits.insert("a".into(), nest(127, json!(0), |j| Json::Array(vec![j])));
    engine.create_instance("Doc", fits.clone()).await.unwrap();
    fits.insert("id".into(), json!("g"));
    fits.insert("a".into(), nest(128, json!(0), |j| Json::Array(vec![j])));
    let refused = engine.create_instance("Doc", fits).await.map(drop);
    assert_eq!(depth(refused), 129);
}

/// `c_i = c_{i-1} + c_{i-2}`: each computed property is evaluated once per evaluation
/// (counted through `now()`, which every expression calls once), so 60 of them take 60
/// evaluations, not 10^12.
#[tokio::test]
async fn computed_properties_are_evaluated_once() {
    async fn chain(n: usize) -> (Value, usize) {
        let plus_now_times_zero = |e: Json| {
            binary(
                "+",
                e,
                binary(
                    "*",
                    call("now", vec![]),
                    json!({"kind": "literal", "value": {"kind": "number", "value": 0}}),
                ),
            )
        };
        let one = json!({"kind": "literal", "value": {"kind": "number", "value": 1}});
        let mut properties = Vec::new();
        for i in 0..n {
            let (expression, deps) = if i < 2 {
                (plus_now_times_zero(one.clone()), vec![])
            } else {
                let (a, b) = (format!("c{}", i - 1), format!("c{}", i - 2));
                (plus_now_times_zero(binary("+", id(&a), id(&b))), vec![a, b])
            };
            properties.push(json!({"name": format!("c{i}"), "type": {"name": "number"}, "expression": expression, "dependencies": deps}));
        }
        let ir = Ir::from_json(json!({
            "version": "1.0",
            "entities": [{"name": "Doc", "properties": [], "computedProperties": properties}]
        }))
        .unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let engine = Engine::builder(ir)
            .clock(move || {
                counted.fetch_add(1, Ordering::Relaxed);
                0.0
            })
            .build()
            .unwrap();
        engine
            .create_instance("Doc", data(json!({"id": "d"})))
            .await
            .unwrap();
        let value = engine
            .evaluate_computed("Doc", "d", &format!("c{}", n - 1))
            .await
            .unwrap();
        (value, calls.load(Ordering::Relaxed))
    }
    assert_eq!(chain(25).await, (Value::Number(75_025.0), 25));
    assert_eq!(chain(60).await, (Value::Number(1_548_008_755_920.0), 60));
}

/// A `matches` pattern JavaScript accepts but the regex engine cannot compile is an
/// error naming it, and the command writes nothing; a pattern JavaScript rejects is
/// `false`, as in the reference.
#[tokio::test]
async fn matches_with_a_pattern_too_large_is_an_error() {
    let matching = |pattern: &str| {
        vec![
            mutate("b", string("changed")),
            mutate("n", call("matches", vec![this("a"), string(pattern)])),
        ]
    };
    let big = "^(?:a{1000}){1000}$";
    let engine = doc_engine(matching(big), Limits::default(), &"a".repeat(1_000_000), "").await;
    match run(&engine, json!({})).await {
        Err(RuntimeError::Eval {
            source: EvalError::PatternTooLarge { pattern, .. },
            ..
        }) => assert_eq!(pattern, big),
        other => panic!("expected PatternTooLarge, got {other:?}"),
    }
    let stored = engine.get_instance("Doc", "d").await.unwrap().unwrap();
    assert_eq!(
        (stored["b"].clone(), stored["n"].clone()),
        (json!(""), json!(0))
    );
    let engine = doc_engine(matching("("), Limits::default(), "(", "").await;
    assert_eq!(run(&engine, json!({})).await.unwrap()["n"], json!(false));
}
