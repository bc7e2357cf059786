//! The engine's services to expressions ([`EngineHost`]: the clock, ids, limits, relationships,
//! roles) and how the engine evaluates an expression: the scope a command or a constraint sees.

use super::*;

/// The engine's services to expressions: the clock, the id generator and relationships
/// (answered from the instances loaded for the operation).
pub(super) struct EngineHost<'a>(pub(super) &'a Engine, pub(super) &'a Related);

impl Host for EngineHost<'_> {
    fn now(&self) -> f64 {
        (self.0.now)()
    }
    fn generate_id(&self) -> String {
        self.0.ids.generate_string()
    }
    fn limits(&self) -> &Limits {
        &self.0.limits
    }
    fn relationship(
        &self,
        entity: &str,
        instance: &Object,
        property: &str,
    ) -> Option<Result<Value, crate::eval::EvalError>> {
        self.0
            .resolve_relationship(self.1, entity, instance, property)
            .map(Ok)
    }
    fn has_permission(&self, action: &str, target: Option<&str>) -> bool {
        self.0
            .context_role()
            .is_some_and(|role| self.role_allows(role, action, target))
    }
    fn role_allows(&self, role: &str, action: &str, target: Option<&str>) -> bool {
        // The last declaration of a name wins, as in the reference's role index.
        self.0
            .program
            .ir
            .roles
            .iter()
            .rev()
            .find(|r| r.name == role)
            .is_some_and(|r| r.grants(action, target))
    }
}

impl Engine {
    /// The role of the context's user (`context.user.role`), which `hasPermission` and the
    /// default override check go by, as the reference's do.
    pub(super) fn context_role(&self) -> Option<&str> {
        let Value::Object(context) = &self.context else {
            return None;
        };
        let Some(Value::Object(user)) = context.get("user") else {
            return None;
        };
        match user.get("role") {
            Some(Value::String(role)) => Some(role),
            _ => None,
        }
    }

    pub(super) fn now_value(&self) -> Value {
        Value::Number((self.now)())
    }

    /// Evaluate `expr`; `what` names the expression in an error and is only called on one.
    pub(super) fn eval(
        &self,
        expr: &Expr,
        scope: &Scope<'_>,
        related: &Related,
        what: impl FnOnce() -> String,
    ) -> Result<Value, RuntimeError> {
        eval(expr, scope, &EngineHost(self, related))
            .map_err(|source| limits::eval_error(what(), source))
    }

    /// [`eval`](Self::eval) and the value's JavaScript truthiness, without copying the value
    /// (policies, guards, constraints).
    pub(super) fn eval_truthy(
        &self,
        expr: &Expr,
        scope: &Scope<'_>,
        related: &Related,
        what: impl FnOnce() -> String,
    ) -> Result<bool, RuntimeError> {
        eval_truthy(expr, scope, &EngineHost(self, related))
            .map_err(|source| limits::eval_error(what(), source))
    }

    /// `{...instance, ...input, self, this, user, context, ...computed}`, later names hiding
    /// earlier ones, where `this` is the instance with `_entity` ([`enriched`]), or `null`:
    /// what constraints, computed properties and a command's expressions see. It borrows
    /// everything and copies nothing.
    pub(super) fn scope_over<'a>(
        &'a self,
        this: &'a Value,
        input: &'a Object,
        computed: &'a Object,
    ) -> Scope<'a> {
        Scope::for_command(CommandNames {
            input,
            this,
            user: &self.user,
            context: &self.context,
            computed,
        })
    }
}
