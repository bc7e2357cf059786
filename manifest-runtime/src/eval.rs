//! The expression evaluator: [`eval`] computes an [`Expr`] in a [`Scope`], with the
//! JavaScript semantics of the reference runtime's `evaluateExpression`.
//!
//! What the reference does, and so what this does:
//! - an unbound name is `undefined`, except `true`/`false`/`null`;
//! - member access on anything but an object or array is `undefined`, never an error
//!   (so `"abc".length` is `undefined`; `length("abc")` is 3);
//! - `and`/`or` evaluate both sides and return a boolean;
//! - an unknown function, or a method other than an array's `contains`/`all`/`any`, is
//!   `undefined` once its arguments have been evaluated;
//! - a lambda is only callable as a builtin argument (`sum(xs, (x) => x.n)`) or as the
//!   predicate of `all`/`any`; anywhere else it evaluates to `undefined`.
//!
//! Arrays and objects are values here, not references. Two of them are the same JavaScript
//! object only when both are read from the same place (`items == items`,
//! `self.tags == self.tags`, an element of the searched array itself); any other two are
//! distinct objects and never equal. The one case that differs from JavaScript is a copy:
//! `x in [x]` is false here, because the array literal holds a copy of `x`.
//!
//! One known difference: the reference evaluates call arguments and array elements
//! concurrently (`Promise.all`), so when several of them call `uuid()` at different depths
//! the ids can be handed out in another order than the left-to-right one used here.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::builtins::{self, Arg, Builtin, Lambda};
use super::expr::{AggregateOp, BinaryOp, Expr, UnaryOp};
use super::limits::{Budget, LimitExceeded, Limits, weight};
use super::value::{Object, Value};
use manifest_core::BoxDynError;

/// How deeply expressions (and lambda calls) may nest before evaluation stops with
/// [`EvalError::TooDeep`] rather than overflowing the stack.
pub const MAX_DEPTH: usize = 256;

static UNDEFINED: Value = Value::Undefined;

/// The names an expression sees.
///
/// A name is looked up in the scope's own bindings, then in its bound object's fields
/// (see [`Scope::with_fields`]), then in its parent. Values can be owned or borrowed, so a
/// scope over an instance costs no copy of it.
#[derive(Debug, Default)]
pub struct Scope<'a> {
    /// The bindings in the order they were made; a later binding of a name hides an earlier
    /// one, so binding never searches. Scopes hold a handful of bindings (a lambda's
    /// parameters, the few names a caller binds), which a linear search finds faster than a
    /// hash table does, and a new scope (one per lambda call) costs no hasher and at most one
    /// allocation.
    vars: Vec<(Cow<'a, str>, Cow<'a, Value>)>,
    /// A command's names, below `vars`.
    command: Option<CommandNames<'a>>,
    fields: Option<&'a Object>,
    parent: Option<&'a Scope<'a>>,
}

impl<'a> Scope<'a> {
    /// An empty scope.
    pub fn new() -> Self {
        Self::default()
    }

    /// A scope where every field of `fields` is bound by its name (below the bindings set
    /// later, so an input parameter can shadow a property of the same name).
    pub fn with_fields(fields: &'a Object) -> Self {
        Scope {
            fields: Some(fields),
            ..Self::default()
        }
    }

    /// A scope that sees everything this one does, plus its own bindings.
    pub fn child(&self) -> Scope<'_> {
        Scope {
            parent: Some(self),
            ..Scope::default()
        }
    }

    /// Bind `name` to `value`, hiding any earlier binding of the name.
    pub fn set(&mut self, name: impl Into<Cow<'a, str>>, value: Value) {
        self.bind(name.into(), Cow::Owned(value));
    }

    /// Bind `name` to a borrowed `value`.
    pub fn set_ref(&mut self, name: impl Into<Cow<'a, str>>, value: &'a Value) {
        self.bind(name.into(), Cow::Borrowed(value));
    }

    /// A scope with a command's names: `computed` hides `self`/`this`, `user` and `context`,
    /// which hide `input`, which hides the fields of `this` (when it is an object). Nothing is
    /// copied and nothing allocated.
    pub(crate) fn for_command(command: CommandNames<'a>) -> Self {
        Scope {
            fields: match command.this {
                Value::Object(fields) => Some(fields),
                _ => None,
            },
            command: Some(command),
            ..Self::default()
        }
    }

    fn bind(&mut self, name: Cow<'a, str>, value: Cow<'a, Value>) {
        self.vars.push((name, value));
    }

    /// The value bound to `name`, if any. A name bound to `undefined` is bound.
    pub fn get(&self, name: &str) -> Option<&Value> {
        if let Some((_, v)) = self.vars.iter().rev().find(|(n, _)| n == name) {
            return Some(v);
        }
        if let Some(v) = self.command.as_ref().and_then(|c| c.get(name)) {
            return Some(v);
        }
        if let Some(v) = self.fields.and_then(|f| f.get(name)) {
            return Some(v);
        }
        self.parent.and_then(|p| p.get(name))
    }

    /// Whether `name` is bound.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// The names a command's expressions see besides the instance's fields (see
/// [`Scope::for_command`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct CommandNames<'a> {
    /// The command's input (or nothing).
    pub input: &'a Object,
    /// `self` and `this`: the instance, or `null`.
    pub this: &'a Value,
    /// `user`.
    pub user: &'a Value,
    /// `context`.
    pub context: &'a Value,
    /// The `compute` bindings so far.
    pub computed: &'a Object,
}

impl<'a> CommandNames<'a> {
    fn get(&self, name: &str) -> Option<&'a Value> {
        if let Some(v) = self.computed.get(name) {
            return Some(v);
        }
        match name {
            "self" | "this" => Some(self.this),
            "user" => Some(self.user),
            "context" => Some(self.context),
            _ => self.input.get(name),
        }
    }
}

/// What the evaluator needs from the engine running it.
pub trait Host {
    /// The current time in epoch milliseconds (`now()`).
    fn now(&self) -> f64;

    /// A fresh id (`uuid()`); every call consumes one.
    fn generate_id(&self) -> String;

    /// Whether the current user's role grants `action` on `target` (`hasPermission`).
    fn has_permission(&self, action: &str, target: Option<&str>) -> bool {
        let _ = (action, target);
        false
    }

    /// Whether the role `role` grants `action` on `target` (`roleAllows`).
    fn role_allows(&self, role: &str, action: &str, target: Option<&str>) -> bool {
        let _ = (role, action, target);
        false
    }

    /// The value of a feature flag (`flag(name)`); `false` when there is no provider.
    fn flag(&self, name: &str) -> Value {
        let _ = name;
        Value::Bool(false)
    }

    /// Resolve `instance.property` when `property` is a relationship of `entity`.
    ///
    /// Called for member access on an object whose `id` is a string and whose `_entity`
    /// names its entity, before the plain field read. `None` means "not a relationship":
    /// the field is read as usual.
    fn relationship(
        &self,
        entity: &str,
        instance: &Object,
        property: &str,
    ) -> Option<Result<Value, EvalError>> {
        let _ = (entity, instance, property);
        None
    }

    /// The limits evaluation runs under (default: [`Limits::DEFAULT`]).
    fn limits(&self) -> &Limits {
        &Limits::DEFAULT
    }

    /// Every stored instance of `entity`, for [`Expr::Aggregate`].
    fn instances(&self, entity: &str) -> Result<Vec<Value>, EvalError> {
        Err(EvalError::Unsupported {
            what: format!("aggregating over the rows of `{entity}`"),
        })
    }
}

/// Why an expression could not be evaluated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// A builtin got an argument the reference runtime throws on.
    #[error("`{function}` cannot take {got} as its {position} argument")]
    InvalidArgument {
        /// The builtin.
        function: &'static str,
        /// Which argument (`first`, `second`, …).
        position: &'static str,
        /// The argument's type name.
        got: &'static str,
    },
    /// A construct this runtime does not evaluate.
    #[error("{what} is not supported")]
    Unsupported {
        /// What was asked for.
        what: String,
    },
    /// Expressions or lambda calls nested deeper than [`MAX_DEPTH`].
    #[error("expression nesting exceeds {limit} levels")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// A [`Limits`] limit was exceeded; nothing was allocated past it.
    #[error(transparent)]
    LimitExceeded(LimitExceeded),
    /// A `matches` pattern that JavaScript accepts but the regular expression engine cannot
    /// compile within its size limits (such as `^(?:a{1000}){1000}$`).
    #[error("the `matches` pattern {pattern:?} is too large to compile: {message}")]
    PatternTooLarge {
        /// The pattern.
        pattern: String,
        /// What the regular expression engine reported.
        message: String,
    },
    /// The host failed (resolving a relationship, reading rows).
    #[error("{what} failed")]
    Host {
        /// What the host was doing.
        what: String,
        /// The host's error.
        #[source]
        source: BoxDynError,
    },
}

/// Evaluate `expr` in `scope`.
pub fn eval(expr: &Expr, scope: &Scope<'_>, host: &dyn Host) -> Result<Value, EvalError> {
    Evaluator::new(host).eval(expr, scope).map(Cow::into_owned)
}

/// Evaluate `expr` in `scope` and take its JavaScript truthiness (guards, policies,
/// constraints), without copying the value.
pub fn eval_truthy(expr: &Expr, scope: &Scope<'_>, host: &dyn Host) -> Result<bool, EvalError> {
    Evaluator::new(host).eval(expr, scope).map(|v| v.truthy())
}

/// One evaluation: the host, its limits, the steps left and the current depth.
pub(super) struct Evaluator<'h> {
    pub(super) host: &'h dyn Host,
    pub(super) limits: &'h Limits,
    budget: Budget,
    depth: usize,
}

impl<'h> Evaluator<'h> {
    fn new(host: &'h dyn Host) -> Self {
        let limits = host.limits();
        Evaluator {
            host,
            limits,
            budget: Budget::new(limits.max_steps),
            depth: 0,
        }
    }

    /// Spend `n` steps of the budget (see [`Limits::max_steps`]).
    #[inline]
    pub(super) fn spend(&mut self, n: u64) -> Result<(), EvalError> {
        self.budget.spend(n)
    }

    /// Spend the steps copying `v` costs.
    pub(super) fn spend_copy(&mut self, v: &Value) -> Result<(), EvalError> {
        let n = weight(v, self.limits.max_steps);
        self.spend(n)
    }

    pub(super) fn eval<'a>(
        &mut self,
        expr: &'a Expr,
        scope: &'a Scope<'_>,
    ) -> Result<Cow<'a, Value>, EvalError> {
        if self.depth >= MAX_DEPTH {
            return Err(EvalError::TooDeep { limit: MAX_DEPTH });
        }
        self.budget.spend(1)?;
        self.depth += 1;
        let result = self.eval_inner(expr, scope);
        self.depth -= 1;
        result
    }

    fn eval_inner<'a>(
        &mut self,
        expr: &'a Expr,
        scope: &'a Scope<'_>,
    ) -> Result<Cow<'a, Value>, EvalError> {
        Ok(match expr {
            Expr::Literal { value } => Cow::Owned(Value::from(value)),
            Expr::Identifier { name } => match scope.get(name) {
                Some(v) => Cow::Borrowed(v),
                None => Cow::Owned(match name.as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" => Value::Null,
                    _ => Value::Undefined,
                }),
            },
            Expr::Member { object, property } => {
                let object = self.eval(object, scope)?;
                self.member(object, property)?
            }
            Expr::Binary {
                operator,
                left,
                right,
            } => {
                let left = self.eval(left, scope)?;
                let right = self.eval(right, scope)?;
                if *operator == BinaryOp::Add {
                    return self.add(&left, &right).map(Cow::Owned);
                }
                if matches!(operator, BinaryOp::In | BinaryOp::Contains) {
                    let haystack = if *operator == BinaryOp::In {
                        &right
                    } else {
                        &left
                    };
                    self.spend_scan(haystack)?;
                }
                Cow::Owned(binary(*operator, &left, &right))
            }
            Expr::Unary { operator, operand } => {
                let operand = self.eval(operand, scope)?;
                Cow::Owned(match operator {
                    UnaryOp::Not | UnaryOp::Bang => Value::Bool(!operand.truthy()),
                    UnaryOp::Neg => Value::Number(-operand.to_number()),
                })
            }
            Expr::Call { callee, args } => self.call(callee, args, scope)?,
            Expr::Conditional {
                condition,
                consequent,
                alternate,
            } => {
                if self.eval(condition, scope)?.truthy() {
                    self.eval(consequent, scope)?
                } else {
                    self.eval(alternate, scope)?
                }
            }
            Expr::Array { elements } => {
                self.limits.check_array(elements.len())?;
                let mut items = Vec::with_capacity(elements.len());
                for e in elements {
                    let v = self.eval(e, scope)?;
                    self.spend_copy(&v)?;
                    items.push(v.into_owned());
                }
                Cow::Owned(Value::Array(items))
            }
            Expr::Object { properties } => {
                let mut fields = Object::new();
                for p in properties {
                    let v = self.eval(&p.value, scope)?;
                    self.spend_copy(&v)?;
                    fields.insert(p.key.clone(), v.into_owned());
                }
                Cow::Owned(Value::Object(fields))
            }
            // A function has no `Value` form; see the module docs.
            Expr::Lambda { .. } => Cow::Owned(Value::Undefined),
            Expr::Aggregate {
                op,
                entity,
                predicates,
                field,
            } => {
                let mut wanted = Vec::with_capacity(predicates.len());
                for p in predicates {
                    wanted.push((p.field.as_str(), self.eval(&p.value, scope)?));
                }
                let rows = self.host.instances(entity)?;
                self.spend(rows.len() as u64)?;
                let mut count = 0.0;
                let mut sum = 0.0;
                for row in &rows {
                    let read = |name: &str| match row {
                        Value::Object(fields) => fields.get(name).unwrap_or(&UNDEFINED),
                        _ => &UNDEFINED,
                    };
                    if wanted.iter().all(|(f, v)| read(f).strict_eq(v)) {
                        count += 1.0;
                        if let Some(Value::Number(n)) = field.as_deref().map(read)
                            && n.is_finite()
                        {
                            sum += n;
                        }
                    }
                }
                Cow::Owned(Value::Number(match op {
                    AggregateOp::Count => count,
                    AggregateOp::Sum => sum,
                }))
            }
        })
    }

    /// `object.property`.
    fn member<'a>(
        &mut self,
        object: Cow<'a, Value>,
        property: &str,
    ) -> Result<Cow<'a, Value>, EvalError> {
        // `_entity` first: most objects have none, which saves the `id` lookup.
        if let Value::Object(fields) = &*object
            && let Some(Value::String(entity)) = fields.get("_entity")
            && !entity.is_empty()
            && let Some(Value::String(_)) = fields.get("id")
            && let Some(resolved) = self.host.relationship(entity, fields, property)
        {
            return resolved.map(Cow::Owned);
        }
        Ok(match object {
            Cow::Borrowed(Value::Object(fields)) => fields
                .get(property)
                .map_or(Cow::Owned(Value::Undefined), Cow::Borrowed),
            Cow::Owned(Value::Object(mut fields)) => {
                Cow::Owned(fields.remove(property).unwrap_or_default())
            }
            Cow::Borrowed(Value::Array(items)) => match array_property(items, property) {
                ArrayProperty::Length(n) => Cow::Owned(Value::Number(n)),
                ArrayProperty::Index(i) => Cow::Borrowed(&items[i]),
                ArrayProperty::None => Cow::Owned(Value::Undefined),
            },
            Cow::Owned(Value::Array(mut items)) => match array_property(&items, property) {
                ArrayProperty::Length(n) => Cow::Owned(Value::Number(n)),
                ArrayProperty::Index(i) => Cow::Owned(items.swap_remove(i)),
                ArrayProperty::None => Cow::Owned(Value::Undefined),
            },
            _ => Cow::Owned(Value::Undefined),
        })
    }

    /// `callee(args)`.
    fn call<'a>(
        &mut self,
        callee: &'a Expr,
        args: &'a [Expr],
        scope: &'a Scope<'_>,
    ) -> Result<Cow<'a, Value>, EvalError> {
        match callee {
            Expr::Identifier { name } => {
                if let Some(builtin) = Builtin::from_name(name) {
                    let args = self.eval_args(args, scope)?;
                    return builtins::call(self, builtin, args, scope);
                }
            }
            Expr::Member { object, property } => {
                let receiver = self.eval(object, scope)?;
                if let Value::Array(items) = &*receiver {
                    let first = match args.first() {
                        Some(e)
                            if property == "contains" || property == "all" || property == "any" =>
                        {
                            Some(self.eval_arg(e, scope)?)
                        }
                        _ => None,
                    };
                    match (property.as_str(), first) {
                        ("contains", first) => {
                            self.spend_scan(&receiver)?;
                            let found = match first {
                                Some(Arg::Lambda(_)) => false,
                                Some(Arg::Value(needle)) => includes(&receiver, &needle),
                                None => items.iter().any(|x| x.same_value_zero(&UNDEFINED)),
                            };
                            return Ok(Cow::Owned(Value::Bool(found)));
                        }
                        (method @ ("all" | "any"), Some(Arg::Lambda(predicate))) => {
                            let want = method == "any";
                            for item in items {
                                if self.call_lambda(predicate, scope, item)?.truthy() == want {
                                    return Ok(Cow::Owned(Value::Bool(want)));
                                }
                            }
                            return Ok(Cow::Owned(Value::Bool(!want)));
                        }
                        _ => {}
                    }
                }
            }
            Expr::Lambda { params, body } => {
                let args = self.eval_args(args, scope)?;
                let mut frame = scope.child();
                for (i, param) in params.iter().enumerate() {
                    let v = match args.get(i) {
                        Some(Arg::Value(v)) => {
                            self.spend_copy(v)?;
                            v.clone().into_owned()
                        }
                        _ => Value::Undefined,
                    };
                    frame.set(param.as_str(), v);
                }
                return Ok(Cow::Owned(self.eval(body, &frame)?.into_owned()));
            }
            _ => {}
        }
        // The reference evaluates the callee (again, for a member) and the arguments, then
        // finds nothing callable.
        self.eval(callee, scope)?;
        self.eval_args(args, scope)?;
        Ok(Cow::Owned(Value::Undefined))
    }

    fn eval_arg<'a>(&mut self, arg: &'a Expr, scope: &'a Scope<'_>) -> Result<Arg<'a>, EvalError> {
        Ok(match arg {
            Expr::Lambda { params, body } => Arg::Lambda(Lambda { params, body }),
            other => Arg::Value(self.eval(other, scope)?),
        })
    }

    fn eval_args<'a>(
        &mut self,
        args: &'a [Expr],
        scope: &'a Scope<'_>,
    ) -> Result<Vec<Arg<'a>>, EvalError> {
        args.iter().map(|a| self.eval_arg(a, scope)).collect()
    }

    /// Call a one-argument lambda on `arg`, in a frame over `scope`.
    pub(super) fn call_lambda(
        &mut self,
        lambda: Lambda<'_>,
        scope: &Scope<'_>,
        arg: &Value,
    ) -> Result<Value, EvalError> {
        let mut frame = scope.child();
        for (i, param) in lambda.params.iter().enumerate() {
            frame.set_ref(param.as_str(), if i == 0 { arg } else { &UNDEFINED });
        }
        let result = self.eval(lambda.body, &frame)?;
        self.spend_copy(&result)?;
        Ok(result.into_owned())
    }

    /// Spend the steps of a linear scan of `haystack` (`contains`, `in`): one per array
    /// element, one per KiB of string.
    fn spend_scan(&mut self, haystack: &Value) -> Result<(), EvalError> {
        match haystack {
            Value::Array(items) => self.spend(items.len() as u64),
            Value::String(s) => self.spend(s.len() as u64 >> 10),
            _ => Ok(()),
        }
    }

    /// `left + right`, its length checked against [`Limits::max_string_bytes`] before the
    /// concatenation is allocated.
    fn add(&mut self, left: &Value, right: &Value) -> Result<Value, EvalError> {
        let (l, r) = (left.to_primitive(), right.to_primitive());
        if !matches!(*l, Value::String(_)) && !matches!(*r, Value::String(_)) {
            return Ok(Value::Number(l.to_number() + r.to_number()));
        }
        fn text(v: &Value) -> Cow<'_, str> {
            match v {
                Value::String(s) => Cow::Borrowed(s.as_str()),
                other => Cow::Owned(other.to_js_string()),
            }
        }
        let (l, r) = (text(&l), text(&r));
        let len = l.len().saturating_add(r.len());
        self.limits.check_string(len)?;
        self.spend(len as u64 >> 10)?;
        let mut s = String::with_capacity(len);
        s.push_str(&l);
        s.push_str(&r);
        Ok(Value::String(s))
    }
}

enum ArrayProperty {
    Length(f64),
    Index(usize),
    None,
}

/// What an array has under `property`: its `length`, or the element at a canonical index.
fn array_property(items: &[Value], property: &str) -> ArrayProperty {
    if property == "length" {
        #[allow(clippy::cast_precision_loss)] // lengths are far below 2^53
        return ArrayProperty::Length(items.len() as f64);
    }
    let canonical = !property.is_empty()
        && property.bytes().all(|b| b.is_ascii_digit())
        && (property == "0" || !property.starts_with('0'));
    match property.parse::<usize>() {
        Ok(i) if canonical && i < items.len() => ArrayProperty::Index(i),
        _ => ArrayProperty::None,
    }
}

/// `left op right`, with the reference runtime's JavaScript semantics.
///
/// Two operands at the same address (both read from one binding: `items == items`,
/// `self.tags == self.tags`) are the same JavaScript object, so they are equal even when
/// they are arrays or objects. Values computed during evaluation live apart, so they never
/// alias.
pub(super) fn binary(op: BinaryOp, left: &Value, right: &Value) -> Value {
    let ord = || left.js_compare(right);
    let eq = || same_object(left, right) || left.loose_eq(right);
    match op {
        BinaryOp::Add => {
            let (l, r) = (left.to_primitive(), right.to_primitive());
            if matches!(*l, Value::String(_)) || matches!(*r, Value::String(_)) {
                let mut s = l.to_js_string();
                s.push_str(&r.to_js_string());
                Value::String(s)
            } else {
                Value::Number(l.to_number() + r.to_number())
            }
        }
        BinaryOp::Sub => Value::Number(left.to_number() - right.to_number()),
        BinaryOp::Mul => Value::Number(left.to_number() * right.to_number()),
        BinaryOp::Div => Value::Number(left.to_number() / right.to_number()),
        BinaryOp::Rem => Value::Number(left.to_number() % right.to_number()),
        BinaryOp::Eq | BinaryOp::Is => Value::Bool(eq()),
        BinaryOp::Ne => Value::Bool(!eq()),
        BinaryOp::Lt => Value::Bool(ord() == Some(Ordering::Less)),
        BinaryOp::Gt => Value::Bool(ord() == Some(Ordering::Greater)),
        BinaryOp::Le => Value::Bool(matches!(ord(), Some(Ordering::Less | Ordering::Equal))),
        BinaryOp::Ge => Value::Bool(matches!(ord(), Some(Ordering::Greater | Ordering::Equal))),
        BinaryOp::And | BinaryOp::AndAnd => Value::Bool(left.truthy() && right.truthy()),
        BinaryOp::Or | BinaryOp::OrOr => Value::Bool(left.truthy() || right.truthy()),
        BinaryOp::In => Value::Bool(includes(right, left)),
        BinaryOp::Contains => Value::Bool(includes(left, right)),
    }
}

/// Whether both operands are the same array or object in memory: the same JavaScript object.
fn same_object(left: &Value, right: &Value) -> bool {
    std::ptr::eq(left, right) && matches!(left, Value::Array(_) | Value::Object(_))
}

/// `haystack.includes(needle)` for arrays (`SameValueZero`, or the very element) and
/// strings (substring of `String(needle)`); false for anything else.
fn includes(haystack: &Value, needle: &Value) -> bool {
    match haystack {
        Value::Array(items) => items
            .iter()
            .any(|x| x.same_value_zero(needle) || std::ptr::eq(x, needle)),
        Value::String(s) => match needle {
            Value::String(n) => s.contains(n.as_str()),
            other => s.contains(other.to_js_string().as_str()),
        },
        _ => false,
    }
}

#[cfg(test)]
pub(super) mod tests;
