//! [`Program`]: the IR compiled once into what every engine built from it looks things up by.

use rustc_hash::FxHashMap;

use super::not_executed::NotExecuted;
use super::rate_limit::RateLimiter;
use super::reads;
use super::relations::lookup_fields;
use crate::expr::Expr;
use crate::ir::{Ir, IrCommand, IrEntity, IrError, IrPolicy, PolicyAction};

/// A Manifest program ready to run: the IR, with its entities and commands indexed and the
/// per-entity facts the engine needs worked out once. Build it once (at startup) and share it
/// behind an [`Arc`](std::sync::Arc): [`Engine::builder`](super::Engine::builder) takes one,
/// and building an engine from it costs a few allocations, not a recompilation, so a service
/// can build an engine per request or per tenant, each with its own tenant, actor and context.
///
/// The program also holds the request counts of rate limits, so that engines built from it
/// share them (a limit per user counts the user's calls through every engine of the process).
#[derive(Debug)]
pub struct Program {
    pub(super) ir: Ir,
    /// The IR's hash, from its provenance (`irHash`), for audit records.
    pub(super) ir_hash: Option<String>,
    /// Each entity's index in `ir.entities`, by name (the first of two of one name).
    pub(super) entities: FxHashMap<String, usize>,
    /// The indexes in `ir.commands` of the commands of each name, in declaration order.
    commands: FxHashMap<String, Vec<usize>>,
    /// Per command: the indexes in `ir.policies` of the policies it is checked against, in
    /// declaration order (its named policies, or else the `all`/`execute` policies of its
    /// entity and of every entity).
    command_policies: Vec<Vec<usize>>,
    /// Per command: the relationships of its entity that its expressions (policies,
    /// constraints, guards, actions, event payloads) name, fetched before its first
    /// evaluation so that it does not run twice to find them (see `relations`).
    command_prefetch: Vec<Vec<String>>,
    /// Per entity: whether its reads are gated or masked.
    pub(super) projects_reads: Vec<bool>,
    /// `(entity, field)`: the fields `hasMany`/`hasOne` relationships look children up by
    /// (indexed in the SQL databases' document tables).
    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
    pub(super) lookup_fields: Vec<(String, String)>,
    pub(super) rate_limiter: RateLimiter,
    /// What the program declares that this runtime does not execute yet.
    not_executed: Vec<NotExecuted>,
}

impl Program {
    /// Compile `ir`.
    pub fn new(ir: Ir) -> Self {
        // Built in code, an `Ir` may not have read its modifiers yet (loading does).
        let ir = ir.with_flags();
        let mut entities = FxHashMap::default();
        for (i, entity) in ir.entities.iter().enumerate() {
            entities.entry(entity.name.clone()).or_insert(i);
        }
        let mut commands: FxHashMap<String, Vec<usize>> = FxHashMap::default();
        for (i, command) in ir.commands.iter().enumerate() {
            commands.entry(command.name.clone()).or_default().push(i);
        }
        let command_policies = ir
            .commands
            .iter()
            .map(|command| {
                let named = !command.policies.is_empty();
                ir.policies
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| {
                        if named {
                            command.policies.contains(&p.name)
                        } else {
                            (p.entity.is_none()
                                || command.entity.is_none()
                                || p.entity == command.entity)
                                && matches!(p.action, PolicyAction::All | PolicyAction::Execute)
                        }
                    })
                    .map(|(i, _)| i)
                    .collect()
            })
            .collect();
        let command_prefetch = ir
            .commands
            .iter()
            .zip(&command_policies)
            .map(|(command, policies): (&IrCommand, &Vec<usize>)| {
                let Some(entity) = command.entity.as_deref().and_then(|e| ir.entity(e)) else {
                    return Vec::new();
                };
                if entity.relationships.is_empty() {
                    return Vec::new();
                }
                let mut names = Vec::new();
                let exprs = policies
                    .iter()
                    .map(|&i| &ir.policies[i].expression)
                    .chain(command.constraints.iter().map(|c| &c.expression))
                    .chain(&command.guards)
                    .chain(command.actions.iter().map(|a| &a.expression))
                    .chain(
                        command
                            .emit_payloads
                            .iter()
                            .flat_map(|p| p.fields.iter().map(|f| &f.expression)),
                    );
                for expr in exprs {
                    names_in(expr, &mut names);
                }
                entity
                    .relationships
                    .iter()
                    .filter(|r| names.contains(&r.name.as_str()))
                    .map(|r| r.name.clone())
                    .collect()
            })
            .collect();
        let projects_reads = ir
            .entities
            .iter()
            .map(|entity| reads::projects_reads(&ir, entity))
            .collect();
        let lookup_fields = lookup_fields(&ir);
        let ir_hash = ir.provenance.as_ref().and_then(|p| p.ir_hash.clone());
        let not_executed = super::not_executed::find(&ir);
        for construct in &not_executed {
            tracing::warn!(target: "manifest_runtime::program", "{construct}");
        }
        Program {
            ir,
            ir_hash,
            entities,
            commands,
            command_policies,
            command_prefetch,
            projects_reads,
            lookup_fields,
            rate_limiter: RateLimiter::default(),
            not_executed,
        }
    }

    /// What the program declares that this runtime loads but does not execute yet (sagas,
    /// schedules, webhooks, approvals, retry policies, async commands, reaction matches,
    /// fan-outs on another entity, event-sourced stores, the tenant declaration), in IR
    /// order. Each was also logged as a `tracing` warning when the program was compiled.
    pub fn not_executed(&self) -> &[NotExecuted] {
        &self.not_executed
    }

    /// Load and compile IR JSON ([`Ir::from_json_str`]; errors name the JSON path).
    pub fn from_json_str(text: &str) -> Result<Self, IrError> {
        Ok(Program::new(Ir::from_json_str(text)?))
    }

    /// The IR.
    pub fn ir(&self) -> &Ir {
        &self.ir
    }

    /// The index of the entity called `name`.
    pub(super) fn entity_index(&self, name: &str) -> Option<usize> {
        self.entities.get(name).copied()
    }

    /// The entity called `name`.
    pub fn entity(&self, name: &str) -> Option<&IrEntity> {
        self.entity_index(name).map(|i| &self.ir.entities[i])
    }

    /// The command called `name`, of `entity` when one is given (the first declared).
    pub fn command(&self, name: &str, entity: Option<&str>) -> Option<&IrCommand> {
        self.command_index(name, entity)
            .map(|i| &self.ir.commands[i])
    }

    /// The index in `ir.commands` of [`command`](Self::command).
    pub(super) fn command_index(&self, name: &str, entity: Option<&str>) -> Option<usize> {
        self.commands
            .get(name)?
            .iter()
            .copied()
            .find(|&i| entity.is_none() || self.ir.commands[i].entity.as_deref() == entity)
    }

    /// The relationships command `index` names, to fetch before it first runs.
    pub(super) fn prefetch_of(&self, index: usize) -> &[String] {
        &self.command_prefetch[index]
    }

    /// The policies command `index` is checked against, in order.
    pub(super) fn policies_of(&self, index: usize) -> impl Iterator<Item = &IrPolicy> {
        self.command_policies[index]
            .iter()
            .map(|&i| &self.ir.policies[i])
    }
}

impl From<Ir> for Program {
    fn from(ir: Ir) -> Self {
        Program::new(ir)
    }
}

/// What [`Engine::builder`](crate::Engine::builder) runs: an [`Ir`], a [`Program`], or a
/// shared `Arc<Program>` (which makes building cheap).
pub trait IntoProgram {
    /// The program, shared.
    fn into_program(self) -> std::sync::Arc<Program>;
}

impl IntoProgram for Ir {
    fn into_program(self) -> std::sync::Arc<Program> {
        std::sync::Arc::new(Program::new(self))
    }
}

impl IntoProgram for Program {
    fn into_program(self) -> std::sync::Arc<Program> {
        std::sync::Arc::new(self)
    }
}

impl IntoProgram for std::sync::Arc<Program> {
    fn into_program(self) -> std::sync::Arc<Program> {
        self
    }
}

/// Every name `expr` reads (identifiers and member properties), into `out`.
fn names_in<'e>(expr: &'e Expr, out: &mut Vec<&'e str>) {
    match expr {
        Expr::Identifier { name } => out.push(name),
        Expr::Member { object, property } => {
            out.push(property);
            names_in(object, out);
        }
        Expr::Binary { left, right, .. } => {
            names_in(left, out);
            names_in(right, out);
        }
        Expr::Unary { operand, .. } => names_in(operand, out),
        Expr::Call { callee, args } => {
            names_in(callee, out);
            args.iter().for_each(|a| names_in(a, out));
        }
        Expr::Conditional {
            condition,
            consequent,
            alternate,
        } => {
            names_in(condition, out);
            names_in(consequent, out);
            names_in(alternate, out);
        }
        Expr::Array { elements } => elements.iter().for_each(|e| names_in(e, out)),
        Expr::Object { properties } => properties.iter().for_each(|p| names_in(&p.value, out)),
        Expr::Lambda { body, .. } => names_in(body, out),
        // Anything else names nothing a prefetch could use; what it reads is still fetched
        // on demand.
        _ => {}
    }
}
