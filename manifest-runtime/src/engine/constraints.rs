//! Computed properties (each evaluated once per evaluation) and entity and command
//! constraints (outcomes with severities and resolved values), as the reference evaluates them.

use super::*;

impl Engine {
    /// The value of a computed property of an instance (`Undefined` when the instance or the
    /// property does not exist).
    pub async fn evaluate_computed(
        &self,
        entity_name: &str,
        id: &str,
        property: &str,
    ) -> Result<Value, RuntimeError> {
        let entity = self.entity(entity_name)?;
        let unit = self.operation().await?;
        let rows = self.rows_in(&unit, self.index_of(entity_name)?);
        let Some(read) = rows.get(entity_name, id).await? else {
            return Ok(Value::Undefined);
        };
        self.resolving(&unit, |related| {
            let mut memo = HashMap::new();
            let (value, _) = self.computed(
                entity,
                &read.this,
                property,
                &mut Vec::new(),
                &mut memo,
                related,
            )?;
            Ok(value)
        })
        .await
    }

    /// The value of the computed `property`, and whether it is the same whatever is being
    /// computed around it: a dependency on a property being computed (a cycle) is left
    /// unbound, as in the reference, so a value computed inside a cycle depends on where the
    /// cycle was entered. Values that do not are kept in `memo`, so each computed property of
    /// one evaluation is evaluated once however many others depend on it.
    pub(super) fn computed(
        &self,
        entity: &IrEntity,
        this: &Value,
        property: &str,
        visiting: &mut Vec<String>,
        memo: &mut HashMap<String, Value>,
        related: &Related,
    ) -> Result<(Value, bool), RuntimeError> {
        if visiting.iter().any(|v| v == property) {
            return Ok((Value::Undefined, false));
        }
        if let Some(value) = memo.get(property) {
            return Ok((value.clone(), true));
        }
        let Some(computed) = entity
            .computed_properties
            .iter()
            .find(|c| c.name == property)
        else {
            return Ok((Value::Undefined, true));
        };
        visiting.push(property.to_owned());
        let mut deps = Object::new();
        let mut independent = true;
        for dep in &computed.dependencies {
            if entity.computed_properties.iter().any(|c| &c.name == dep) {
                if visiting.contains(dep) {
                    independent = false;
                    continue;
                }
                let (value, dep_independent) =
                    self.computed(entity, this, dep, visiting, memo, related)?;
                independent &= dep_independent;
                deps.insert(dep.clone(), value);
            }
        }
        visiting.pop();
        let scope = self.scope_over(this, &EMPTY, &deps);
        let value = self.eval(&computed.expression, &scope, related, || {
            format!("computed property `{}.{property}`", entity.name)
        })?;
        if independent {
            memo.insert(property.to_owned(), value.clone());
        }
        Ok((value, independent))
    }

    /// The entity constraints `data` fails, in declaration order (`ok` never fails).
    /// Relationships in the constraints resolve against the stored instances.
    pub async fn check_constraints(
        &self,
        entity_name: &str,
        data: &Map<String, Json>,
    ) -> Result<Vec<ConstraintOutcome>, RuntimeError> {
        let entity = self.entity(entity_name)?;
        limits::check_input_depth(&self.limits, data, || {
            format!("the data of a `{entity_name}`")
        })?;
        let data = to_object(data);
        let unit = self.operation().await?;
        self.resolving(&unit, |related| {
            self.failed_constraints(entity, &data, related)
        })
        .await
    }

    pub(super) fn failed_constraints(
        &self,
        entity: &IrEntity,
        data: &Object,
        related: &Related,
    ) -> Result<Vec<ConstraintOutcome>, RuntimeError> {
        if entity.constraints.is_empty() {
            return Ok(Vec::new());
        }
        let this = enriched(data, Some(&entity.name));
        let scope = self.scope_over(&this, &EMPTY, &EMPTY);
        let mut failed = Vec::new();
        for constraint in &entity.constraints {
            let outcome = self.constraint(constraint, &scope, related)?;
            if !outcome.passed {
                failed.push(outcome);
            }
        }
        Ok(failed)
    }

    /// The values of `expr`'s literals, names and member accesses, each once, as
    /// `{expression, value}` in the order they appear (the reference's
    /// `resolveExpressionValues`): what a failed guard, policy or constraint reports. A part
    /// that cannot be evaluated has no `value`, as in the reference's JSON.
    pub(super) fn resolved_values(
        &self,
        expr: &Expr,
        scope: &Scope<'_>,
        related: &Related,
    ) -> Vec<Json> {
        fn walk<'e>(expr: &'e Expr, out: &mut Vec<&'e Expr>) {
            match expr {
                Expr::Literal { .. } | Expr::Identifier { .. } | Expr::Member { .. } => {
                    out.push(expr)
                }
                Expr::Binary { left, right, .. } => {
                    walk(left, out);
                    walk(right, out);
                }
                Expr::Unary { operand, .. } => walk(operand, out),
                Expr::Call { args, .. } => args.iter().for_each(|a| walk(a, out)),
                Expr::Conditional {
                    condition,
                    consequent,
                    alternate,
                } => {
                    walk(condition, out);
                    walk(consequent, out);
                    walk(alternate, out);
                }
                Expr::Array { elements } => elements.iter().for_each(|e| walk(e, out)),
                Expr::Object { properties } => properties.iter().for_each(|p| walk(&p.value, out)),
                Expr::Lambda { body, .. } => walk(body, out),
                _ => {}
            }
        }
        let mut parts = Vec::new();
        walk(expr, &mut parts);
        let mut seen: Vec<String> = Vec::new();
        let mut entries = Vec::new();
        for part in parts {
            let formatted = part.to_string();
            if seen.contains(&formatted) {
                continue;
            }
            let mut entry = Map::new();
            entry.insert("expression".to_owned(), Json::String(formatted.clone()));
            if let Ok(value) = eval(part, scope, &EngineHost(self, related))
                && let Some(value) = value.to_json()
            {
                entry.insert("value".to_owned(), value);
            }
            seen.push(formatted);
            entries.push(Json::Object(entry));
        }
        entries
    }

    pub(super) fn constraint(
        &self,
        constraint: &IrConstraint,
        scope: &Scope<'_>,
        related: &Related,
    ) -> Result<ConstraintOutcome, RuntimeError> {
        let raw = self.eval_truthy(&constraint.expression, scope, related, || {
            format!("constraint `{}`", constraint.name)
        })?;
        let passed = constraint.severity == Severity::Ok || raw != constraint.fails_when_true();
        Ok(ConstraintOutcome {
            code: constraint.code.clone(),
            constraint_name: constraint.name.clone(),
            severity: constraint.severity,
            formatted: constraint.expression.to_string(),
            message: constraint.message.clone(),
            passed,
            overridden: false,
            overridden_by: None,
            // Only a failed constraint's values are worth their evaluation.
            resolved: if passed {
                Vec::new()
            } else {
                self.resolved_values(&constraint.expression, scope, related)
            },
        })
    }
}
