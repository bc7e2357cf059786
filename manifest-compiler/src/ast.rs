//! The syntax tree the parser builds and the lowering reads.

use crate::lexer::Pos;

/// A literal value in an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
}

/// An expression, with the depth of its tree (1 for a leaf), kept so that the
/// parser can refuse trees too deep to walk or drop recursively.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub depth: u32,
}

/// One `field == value` predicate of an aggregate.
#[derive(Debug, Clone, PartialEq)]
pub struct Predicate {
    pub field: String,
    pub value: Expr,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Literal(Lit),
    Identifier(String),
    Member {
        object: Box<Expr>,
        property: String,
    },
    Binary {
        op: String,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    Unary {
        op: String,
        operand: Box<Expr>,
    },
    Call {
        callee: Box<Expr>,
        args: Vec<Expr>,
    },
    Conditional {
        condition: Box<Expr>,
        consequent: Box<Expr>,
        alternate: Box<Expr>,
    },
    Array(Vec<Expr>),
    Object(Vec<(String, Expr)>),
    Lambda {
        params: Vec<String>,
        body: Box<Expr>,
    },
    Count {
        entity: String,
        predicates: Vec<Predicate>,
    },
    Sum {
        entity: String,
        predicates: Vec<Predicate>,
        of: String,
    },
}

impl Expr {
    pub fn new(kind: ExprKind) -> Expr {
        let child = |e: &Expr| e.depth;
        let deepest = match &kind {
            ExprKind::Literal(_) | ExprKind::Identifier(_) => 0,
            ExprKind::Member { object, .. } => child(object),
            ExprKind::Binary { left, right, .. } => child(left).max(child(right)),
            ExprKind::Unary { operand, .. } => child(operand),
            ExprKind::Call { callee, args } => {
                args.iter().map(child).max().unwrap_or(0).max(child(callee))
            }
            ExprKind::Conditional {
                condition,
                consequent,
                alternate,
            } => child(condition)
                .max(child(consequent))
                .max(child(alternate)),
            ExprKind::Array(items) => items.iter().map(child).max().unwrap_or(0),
            ExprKind::Object(props) => props.iter().map(|(_, v)| v.depth).max().unwrap_or(0),
            ExprKind::Lambda { body, .. } => child(body),
            ExprKind::Count { predicates, .. } | ExprKind::Sum { predicates, .. } => {
                predicates.iter().map(|p| p.value.depth).max().unwrap_or(0)
            }
        };
        Expr {
            kind,
            depth: deepest + 1,
        }
    }

    pub fn ident(name: &str) -> Expr {
        Expr::new(ExprKind::Identifier(name.to_string()))
    }

    pub fn lit(lit: Lit) -> Expr {
        Expr::new(ExprKind::Literal(lit))
    }

    /// Every direct sub-expression, for walks.
    pub fn children(&self) -> Vec<&Expr> {
        match &self.kind {
            ExprKind::Literal(_) | ExprKind::Identifier(_) => vec![],
            ExprKind::Member { object, .. } => vec![object],
            ExprKind::Binary { left, right, .. } => vec![left, right],
            ExprKind::Unary { operand, .. } => vec![operand],
            ExprKind::Call { callee, args } => {
                std::iter::once(&**callee).chain(args.iter()).collect()
            }
            ExprKind::Conditional {
                condition,
                consequent,
                alternate,
            } => {
                vec![condition, consequent, alternate]
            }
            ExprKind::Array(items) => items.iter().collect(),
            ExprKind::Object(props) => props.iter().map(|(_, v)| v).collect(),
            ExprKind::Lambda { body, .. } => vec![body],
            ExprKind::Count { predicates, .. } | ExprKind::Sum { predicates, .. } => {
                predicates.iter().map(|p| &p.value).collect()
            }
        }
    }

    /// `self.<p>` or `this.<p>`: the property name.
    pub fn self_member(&self) -> Option<&str> {
        if let ExprKind::Member { object, property } = &self.kind
            && let ExprKind::Identifier(base) = &object.kind
            && (base == "self" || base == "this")
        {
            return Some(property);
        }
        None
    }
}

/// A type annotation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TypeRef {
    pub name: String,
    pub generic: Option<Box<TypeRef>>,
    pub nullable: bool,
    pub params: Option<(Option<f64>, Option<f64>)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MaskDecl {
    pub strategy: String,
    pub params: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    pub name: String,
    pub ty: TypeRef,
    pub default: Option<Expr>,
    pub modifiers: Vec<String>,
    pub mask: Option<MaskDecl>,
    pub unmask_when: Option<Expr>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Computed {
    pub name: String,
    pub ty: TypeRef,
    pub expr: Expr,
    pub dependencies: Vec<String>,
    pub cache: Option<(String, Option<f64>)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Relationship {
    pub kind: String,
    pub name: String,
    pub target: String,
    pub fields: Option<Vec<String>>,
    pub references: Option<Vec<String>>,
    pub through: Option<String>,
    pub on_delete: Option<String>,
    pub on_update: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Constraint {
    pub name: String,
    pub code: Option<String>,
    pub expr: Option<Expr>,
    pub severity: String,
    pub fail_when: Option<bool>,
    pub message: Option<String>,
    pub message_template: Option<String>,
    pub details: Option<Vec<(String, Expr)>>,
    pub overrideable: bool,
    pub override_policy: Option<String>,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    pub name: String,
    pub ty: TypeRef,
    pub required: bool,
    pub default: Option<Expr>,
    pub trusted_source: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    pub kind: String,
    pub target: Option<String>,
    pub expr: Expr,
    pub pos: Pos,
}

/// A `retry { … }` block as written.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Retry {
    pub max_attempts: Option<f64>,
    pub backoff: Option<String>,
    pub delay: Option<f64>,
    pub delay_ms: Option<f64>,
    pub jitter: Option<Jitter>,
    pub retry_on: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Jitter {
    Flag(bool),
    Amount(f64),
}

/// A `rateLimit { … }` block as written.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RateLimit {
    pub max_requests: Option<f64>,
    pub window_ms: Option<f64>,
    pub scope: Option<String>,
    pub burst: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Command {
    pub name: String,
    pub pos: Pos,
    pub parameters: Vec<Parameter>,
    pub retry: Option<Retry>,
    pub rate_limit: Option<RateLimit>,
    pub guards: Vec<Expr>,
    pub constraints: Vec<Constraint>,
    pub actions: Vec<Action>,
    pub emits: Vec<String>,
    pub emit_payloads: Vec<(String, Vec<(String, Expr)>)>,
    pub returns: Option<TypeRef>,
    pub is_async: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub name: String,
    pub action: String,
    pub expr: Expr,
    pub rate_limit: Option<RateLimit>,
    pub message: Option<String>,
    pub is_default: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Store {
    pub entity: String,
    pub target: String,
    pub config: Vec<(String, Expr)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EventPayload {
    Fields(Vec<(String, TypeRef)>),
    Type(TypeRef),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub name: String,
    pub channel: String,
    pub payload: EventPayload,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FanOut {
    pub match_field: String,
    pub match_source: Expr,
    pub match_entity: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Reaction {
    pub event: String,
    pub target_entity: String,
    pub target_command: String,
    pub resolve: Option<Expr>,
    pub matches: Option<Vec<(String, Expr)>>,
    pub else_create: bool,
    pub fan_out: Option<FanOut>,
    pub params: Option<Vec<(String, Expr)>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub property: String,
    pub from: String,
    pub to: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalStage {
    pub name: String,
    pub policy: Expr,
    pub when: Option<Expr>,
    pub required: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EscalateTimeout {
    Hours(f64),
    Word(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum OnTimeout {
    Cancel,
    Escalate {
        bare: bool,
        to: Option<Expr>,
        status: Option<String>,
        timeout: Option<EscalateTimeout>,
        pos: Pos,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Approval {
    pub name: String,
    pub command: String,
    pub stages: Vec<ApprovalStage>,
    pub timeout: Option<f64>,
    pub on_timeout: Option<OnTimeout>,
    pub emits: Vec<String>,
    pub pos: Pos,
}

/// A declaration the parser accepts but the compiler does not lower.
#[derive(Debug, Clone, PartialEq)]
pub struct Unlowered {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Entity {
    pub name: String,
    pub external: bool,
    pub parent: Option<String>,
    pub mixins: Option<Vec<String>>,
    pub type_params: Vec<String>,
    pub type_args: Option<(String, Vec<String>)>,
    pub properties: Vec<Property>,
    pub computed: Vec<Computed>,
    pub relationships: Vec<Relationship>,
    pub behaviors: Vec<String>,
    pub commands: Vec<Command>,
    pub inherited_commands: Vec<String>,
    pub constraints: Vec<Constraint>,
    pub policies: Vec<Policy>,
    pub policy_refs: Option<Vec<String>>,
    pub transitions: Vec<Transition>,
    pub approvals: Vec<Approval>,
    pub reactions: Vec<Reaction>,
    pub store: Option<String>,
    pub key: Option<Vec<String>>,
    pub alternate_keys: Vec<Vec<String>>,
    pub version_property: Option<String>,
    pub version_at_property: Option<String>,
    pub timestamps: bool,
    pub realtime: bool,
    pub schedules: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EnumValue {
    pub name: String,
    pub label: Option<String>,
    pub ordinal: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Enum {
    pub name: String,
    pub values: Vec<EnumValue>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ValueObject {
    pub name: String,
    pub properties: Vec<Property>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    pub property: String,
    pub ty: TypeRef,
    pub context_path: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SagaStep {
    pub name: String,
    pub command_entity: String,
    pub command: String,
    pub compensate: Option<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Saga {
    pub name: String,
    pub steps: Vec<SagaStep>,
    pub on_failure: String,
    pub emits: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Permission {
    pub allow: bool,
    pub action: String,
    pub target: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    pub name: String,
    pub parent: Option<String>,
    pub permissions: Vec<Permission>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub name: String,
    pub path: String,
    pub entity: Option<String>,
    pub command: String,
    pub method: Option<String>,
    pub signature: Option<(String, String, String)>,
    pub idempotency_header: Option<String>,
    pub transform: Vec<(String, Expr)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ScheduleKind {
    Cron(String),
    Interval {
        text: Option<String>,
        value: Option<f64>,
        unit: Option<String>,
    },
    Every {
        value: Option<f64>,
        unit: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub name: String,
    pub kind: ScheduleKind,
    pub target_entity: Option<String>,
    pub target_command: String,
    pub params: Vec<(String, Expr)>,
}

/// Declarations that may appear at the top level or inside a module.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decls {
    pub entities: Vec<Entity>,
    pub enums: Vec<Enum>,
    pub commands: Vec<Command>,
    pub policies: Vec<Policy>,
    pub stores: Vec<Store>,
    pub events: Vec<Event>,
    pub reactions: Vec<Reaction>,
    pub sagas: Vec<Saga>,
    pub roles: Vec<Role>,
    pub webhooks: Vec<Webhook>,
    pub schedules: Vec<Schedule>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Module {
    pub name: String,
    pub decls: Decls,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Program {
    pub top: Decls,
    pub modules: Vec<Module>,
    pub values: Vec<ValueObject>,
    pub tenant: Option<Tenant>,
    pub flows: Vec<Unlowered>,
    pub effects: Vec<Unlowered>,
    pub exposures: Vec<Unlowered>,
    pub compositions: Vec<Unlowered>,
    /// Top-level `constraint` declarations (not lowered; warned about).
    pub orphan_constraints: Vec<String>,
}
