//! Semantic diagnostics the upstream fixtures do not reach, checked against the
//! messages upstream's compiler source gives them.

use manifest_compiler::{Options, compile_with};

fn errors(source: &str) -> Vec<String> {
    match compile_with(source, &Options::default()) {
        Ok(_) => Vec::new(),
        Err(d) => d.errors().map(|e| e.message.clone()).collect(),
    }
}

const ORDER: &str = "entity Order {\n  property required id: string\n  property total: number = 0\n  command place(amount: number) {\n    mutate total = amount\n    emit OrderPlaced\n  }\n  store in memory\n}\nevent OrderPlaced: \"order.placed\" {\n  orderId: string\n}\n";

#[test]
fn reactions_need_an_emitter_and_real_payload_fields() {
    let never = format!("{ORDER}on Shipped run Order.place resolve payload.orderId\n");
    assert_eq!(
        errors(&never),
        [
            "Reaction 'Shipped → Order.place' listens for event 'Shipped' but no command emits that event — the reaction can never fire."
        ]
    );
    let wired = format!(
        "{ORDER}on OrderPlaced run Order.place resolve payload.orderId params {{ amount: payload.amount }}\n"
    );
    assert!(errors(&wired).is_empty(), "{:?}", errors(&wired));
    let unknown = format!("{ORDER}on OrderPlaced run Order.place resolve payload.missing\n");
    assert_eq!(
        errors(&unknown),
        [
            "Reaction 'OrderPlaced → Order.place' references payload.missing but 'missing' is not a parameter of emitter Order.place — undefined at runtime (payload = {...input, result})."
        ]
    );
}

#[test]
fn command_intents_may_not_repeat_within_an_entity() {
    let src = "entity Doc {\n  property required id: string\n  property t: string = \"\"\n  command create(t: string) {\n    mutate t = t\n  }\n  command addDoc(t: string) {\n    mutate t = t\n  }\n  store in memory\n}\n";
    assert_eq!(
        errors(src),
        [
            "Duplicate command intent for Doc.addDoc conflicts with existing command Doc.create; use or extend the existing command."
        ]
    );
}

#[test]
fn role_cycles_and_unknown_parents() {
    let src = format!(
        "{ORDER}role a extends b {{\n  allow read\n}}\nrole b extends a {{\n  allow write\n}}\nrole c extends zz {{\n}}\n"
    );
    assert_eq!(
        errors(&src),
        [
            "Role 'c' extends unknown role 'zz'",
            "Role cycle detected: a -> b -> a"
        ]
    );
}

#[test]
fn schedules_check_cron_and_durations() {
    let src = format!(
        "{ORDER}schedule nightly cron \"0 0 * *\" run Order.place\nschedule often every 5 minutes run Order.place\n"
    );
    assert_eq!(
        errors(&src),
        [
            "Invalid cron expression '0 0 * *' in schedule 'nightly' (expected 5 fields: minute hour day month dayOfWeek)",
            "Invalid every duration in schedule 'often': Invalid duration unit: \"minutes\"",
        ]
    );
}

#[test]
fn async_commands_own_their_completion_events() {
    let src = "entity Job {\n  property required id: string\n  async command run1() {\n    emit run1Completed\n  }\n  store in memory\n}\nevent run1Completed: \"x\"\n";
    assert_eq!(
        errors(src),
        [
            "Async command 'run1' auto-generates event 'run1Completed' which collides with a user-declared event of the same name."
        ]
    );
}

#[test]
fn invalid_regex_and_mask_parameters() {
    let src = "entity P {\n  property required id: string\n  property masked(partial, 1) card: string = \"\"\n  computed valid: boolean = matches(id, \"[a-\")\n  store in memory\n}\n";
    assert_eq!(
        errors(src),
        [
            "Property 'card': masking strategy 'partial' requires exactly 2 parameters (got 1).",
            "Invalid regex pattern in matches(): \"[a-\"",
        ]
    );
}
