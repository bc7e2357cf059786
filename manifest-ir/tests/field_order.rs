//! Every field of every IR type, filled, serializes through the canonical writer: each
//! struct declares its fields in `localeCompare` order (the writer refuses any other), so the
//! typed tree's text is upstream's `irHash` text. The fixtures cannot show this for fields
//! none of them uses.

use manifest_ir::*;
use serde_json::json;

fn every_expr() -> Expr {
    let id = |n: &str| Expr::Identifier { name: n.into() };
    let lit = Expr::Literal {
        value: IrValue::Object {
            // In key order: a JSON value's object (serde_json's map) sorts its keys.
            properties: vec![
                (
                    "a".into(),
                    IrValue::Array {
                        elements: vec![
                            IrValue::String { value: "s".into() },
                            IrValue::Boolean { value: true },
                            IrValue::Null,
                        ],
                    },
                ),
                ("b".into(), IrValue::Number { value: 1.5 }),
            ],
        },
    };
    Expr::Conditional {
        condition: Box::new(Expr::Binary {
            operator: BinaryOp::And,
            left: Box::new(Expr::Unary {
                operator: UnaryOp::Not,
                operand: Box::new(id("x")),
            }),
            right: Box::new(Expr::Member {
                object: Box::new(id("self")),
                property: "p".into(),
            }),
        }),
        consequent: Box::new(Expr::Call {
            callee: Box::new(id("sum")),
            args: vec![
                Expr::Array {
                    elements: vec![lit],
                },
                Expr::Lambda {
                    params: vec!["i".into()],
                    body: Box::new(id("i")),
                },
            ],
        }),
        alternate: Box::new(Expr::Object {
            properties: vec![ObjectProperty {
                key: "k".into(),
                value: Expr::Aggregate {
                    op: AggregateOp::Sum,
                    entity: "E".into(),
                    predicates: vec![AggregatePredicate {
                        field: "f".into(),
                        value: id("v"),
                    }],
                    field: Some("amount".into()),
                },
            }],
        }),
    }
}

fn every_type() -> IrType {
    IrType {
        generic: Some(Box::new(IrType {
            name: "string".into(),
            ..IrType::default()
        })),
        name: "array".into(),
        nullable: true,
        params: Some(json!({"precision": 10, "scale": 2})),
    }
}

fn every_program() -> Ir {
    let e = every_expr;
    let rate_limit = || IrRateLimit {
        burst_allowance: Some(2.0),
        max_requests: 10.0,
        scope: RateLimitScope::User,
        window_ms: 1000.0,
    };
    let constraint = IrConstraint {
        code: Some("C".into()),
        details_mapping: Some(json!({"d": 1})),
        expression: e(),
        fail_when: Some(true),
        message: Some("m".into()),
        message_template: Some("t {x}".into()),
        name: "c".into(),
        overrideable: true,
        override_policy_ref: Some("p".into()),
        severity: Severity::Warn,
    };
    let entity = IrEntity {
        alternate_keys: vec![json!(["a"])],
        approvals: vec![json!({"name": "a"})],
        commands: vec!["run".into()],
        computed_properties: vec![IrComputedProperty {
            cache: Some(json!({"strategy": "memo"})),
            dependencies: vec!["p".into()],
            expression: e(),
            name: "c".into(),
            ty: Some(every_type()),
        }],
        constraints: vec![constraint.clone()],
        default_policies: vec!["p".into()],
        external: true,
        key: Some(vec!["id".into()]),
        mixins: Some(vec!["M".into()]),
        module: Some("m".into()),
        name: "E".into(),
        parent: Some("P".into()),
        policies: vec!["p".into()],
        properties: vec![IrProperty {
            auto_now: true,
            default_value: Some(IrValue::Number { value: 1.0 }),
            flags: Modifiers::default(),
            mask_strategy: Some(IrMaskStrategy {
                params: vec![1.0, 2.0],
                kind: MaskKind::Partial,
                unmask_when: Some(e()),
            }),
            modifiers: vec!["masked".into()],
            name: "p".into(),
            ty: every_type(),
        }],
        realtime: true,
        relationships: vec![IrRelationship {
            foreign_key: Some(IrForeignKey {
                fields: vec!["pId".into()],
                references: Some(vec!["id".into()]),
            }),
            kind: "belongsTo".into(),
            name: "p".into(),
            on_delete: Some("cascade".into()),
            on_update: Some("cascade".into()),
            target: "P".into(),
            through: Some("J".into()),
        }],
        timestamps: true,
        transitions: vec![IrTransition {
            from: "a".into(),
            property: "status".into(),
            to: vec!["b".into()],
        }],
        version_at_property: Some("versionAt".into()),
        version_property: Some("version".into()),
    };
    let command = IrCommand {
        actions: vec![IrAction {
            expression: e(),
            kind: ActionKind::Mutate,
            target: Some("p".into()),
        }],
        is_async: true,
        completion_event: Some("RunCompleted".into()),
        constraints: vec![constraint],
        emit_payloads: vec![IrEmitPayload {
            event_name: "Ran".into(),
            fields: vec![IrEmitPayloadField {
                expression: e(),
                name: "f".into(),
            }],
        }],
        emits: vec!["Ran".into()],
        entity: Some("E".into()),
        failure_event: Some("RunFailed".into()),
        guards: vec![e()],
        initialization: Some(IrInitialization {
            authenticated_ownership_fields: vec!["tenantId".into()],
            command_owned_fields: vec!["p".into()],
            declared_defaults: vec![IrDeclaredDefault {
                property: "status".into(),
                source: "defaultValue".into(),
            }],
            draft_fields: vec!["id".into()],
            dynamic_guard_indexes: vec![0],
            final_document_requirements: vec!["p".into()],
            initialization_inputs: vec!["x".into()],
            initial_lifecycle_state: vec![IrLifecycleValue {
                property: "status".into(),
                value: IrValue::String {
                    value: "open".into(),
                },
            }],
            redundant_guard_indexes: vec![1],
        }),
        module: Some("m".into()),
        name: "run".into(),
        parameters: vec![IrParameter {
            default_value: Some(IrValue::Null),
            name: "x".into(),
            required: true,
            trusted_source: Some("user.id".into()),
            ty: every_type(),
        }],
        policies: vec!["p".into()],
        rate_limit: Some(rate_limit()),
        retry: Some(json!({"maxAttempts": 3})),
        returns: Some(every_type()),
    };
    let permission = IrPermission {
        action: "read".into(),
        target: Some("E".into()),
    };
    Ir {
        commands: vec![command],
        entities: vec![entity],
        enums: vec![json!({"name": "S", "values": []})],
        events: vec![
            IrEvent {
                channel: "c".into(),
                name: "Ran".into(),
                payload: EventPayload::Fields(vec![IrEventField {
                    name: "f".into(),
                    required: true,
                    ty: every_type(),
                }]),
            },
            IrEvent {
                channel: "c".into(),
                name: "Other".into(),
                payload: EventPayload::Type(every_type()),
            },
        ],
        modules: vec![json!({"name": "m"})],
        policies: vec![IrPolicy {
            action: PolicyAction::Execute,
            entity: Some("E".into()),
            expression: e(),
            message: Some("no".into()),
            module: Some("m".into()),
            name: "p".into(),
            rate_limit: Some(rate_limit()),
        }],
        provenance: Some(Provenance {
            compiled_at: Some("t".into()),
            compiler_version: Some("v".into()),
            content_hash: Some("c".into()),
            ir_hash: Some("h".into()),
            schema_version: Some("1.0".into()),
        }),
        reactions: vec![IrReaction {
            else_create: true,
            entity: Some("E".into()),
            event: "Ran".into(),
            fan_out: Some(IrFanOut {
                match_entity: Some("E".into()),
                match_field: "f".into(),
                match_source: e(),
            }),
            matches: Some(vec![IrReactionMatch {
                field: "f".into(),
                source: e(),
            }]),
            module: Some("m".into()),
            params: vec![IrReactionParam {
                expression: e(),
                name: "x".into(),
            }],
            resolve: Some(e()),
            target_command: "run".into(),
            target_entity: "E".into(),
        }],
        roles: vec![IrRole {
            allow: vec![permission.clone()],
            deny: vec![permission.clone()],
            effective_permissions: vec![permission],
            module: Some("m".into()),
            name: "r".into(),
            parent: Some("q".into()),
        }],
        sagas: vec![json!({"name": "s"})],
        schedules: vec![json!({"name": "s"})],
        stores: vec![IrStore {
            config: json!({"k": {"kind": "null"}}),
            entity: "E".into(),
            target: "memory".into(),
        }],
        tenant: Some(json!({"property": "tenantId"})),
        values: vec![json!({"name": "V", "properties": []})],
        version: IR_VERSION.into(),
        webhooks: vec![json!({"name": "w"})],
    }
}

#[test]
fn every_field_of_every_type_is_declared_in_canonical_order() {
    let ir = every_program();
    let text = canonical::to_string(&ir).expect("fields in localeCompare order");
    // The canonical text is the serde text with every object's keys sorted.
    let value = serde_json::to_value(&ir).expect("serializes");
    assert_eq!(text, canonical::to_string(&value).expect("a value sorts"));
    // And it loads back as the same program.
    let back = Ir::from_json(value).expect("loads");
    assert_eq!(back, ir.with_flags());
}

#[test]
fn a_misordered_struct_is_refused() {
    #[derive(serde::Serialize)]
    struct Wrong {
        name: &'static str,
        kind: &'static str,
    }
    let err = canonical::to_string(&Wrong {
        name: "a",
        kind: "b",
    })
    .unwrap_err();
    assert!(err.to_string().contains("kind"), "{err}");
}
