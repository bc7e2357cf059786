//! Initialization plans: which commands create an instance, and how
//! (semantics.md § Initialization Commands), attached as `command.initialization`.

use manifest_ir::js::locale_compare;
use manifest_ir::{
    ActionKind, BinaryOp, Expr, IrCommand, IrDeclaredDefault, IrEntity, IrInitialization,
    IrLifecycleValue, IrValue,
};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use serde_json::Value;

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort_by(|a, b| locale_compare(a, b));
    v
}

fn is_null_literal(e: &Expr) -> bool {
    matches!(
        e,
        Expr::Literal {
            value: IrValue::Null
        }
    )
}

fn is_self_property(e: &Expr, wanted: &str) -> bool {
    matches!(e, Expr::Member { object, property }
        if property == wanted
            && matches!(&**object, Expr::Identifier { name } if name == "self" || name == "this"))
}

/// A guard `self.<property> == null` (or `is null`, either side).
pub(crate) fn asserts_unset(guard: &Expr, property: &str) -> bool {
    let Expr::Binary {
        operator,
        left,
        right,
    } = guard
    else {
        return false;
    };
    matches!(operator, BinaryOp::Eq | BinaryOp::Is)
        && ((is_self_property(left, property) && is_null_literal(right))
            || (is_null_literal(left) && is_self_property(right, property)))
}

fn is_now_call(e: &Expr) -> bool {
    matches!(e, Expr::Call { callee, .. } if matches!(&**callee, Expr::Identifier { name } if name == "now"))
}

fn initializes_lifecycle_timestamp(cmd: &IrCommand) -> bool {
    cmd.actions.iter().any(|a| {
        let Some(target) = a.target.as_deref() else {
            return false;
        };
        a.kind == ActionKind::Mutate
            && target.ends_with("At")
            && target != "updatedAt"
            && is_now_call(&a.expression)
            && cmd.guards.iter().any(|g| asserts_unset(g, target))
    })
}

fn allocates_required_field(cmd: &IrCommand, entity: &IrEntity, target: &str) -> bool {
    let Some(p) = entity.properties.iter().find(|p| p.name == target) else {
        return false;
    };
    if !p.has("required") || p.default_value.is_some() || p.auto_now || target == "id" {
        return false;
    }
    let Some(a) = cmd
        .actions
        .iter()
        .find(|a| a.kind == ActionKind::Mutate && a.target.as_deref() == Some(target))
    else {
        return false;
    };
    match &a.expression {
        Expr::Literal { .. } => true,
        e if is_now_call(e) => true,
        Expr::Identifier { name } => cmd.parameters.iter().any(|p| &p.name == name),
        _ => false,
    }
}

fn owned_fields(cmd: &IrCommand, entity: &IrEntity) -> Vec<String> {
    let props: HashSet<&str> = entity.properties.iter().map(|p| p.name.as_str()).collect();
    let mut owned: Vec<String> = Vec::new();
    for a in &cmd.actions {
        let Some(t) = a.target.as_deref() else {
            continue;
        };
        if props.contains(t)
            && matches!(
                a.kind,
                ActionKind::Mutate | ActionKind::Compute | ActionKind::Persist
            )
            && !owned.iter().any(|o| o == t)
        {
            owned.push(t.to_string());
        }
    }
    sorted(owned)
}

/// The plan for `cmd` on `entity`, or `None` when it does not create instances.
pub(crate) fn build(
    entity: &IrEntity,
    cmd: &IrCommand,
    tenant: Option<&Value>,
) -> Option<IrInitialization> {
    if cmd.entity.as_deref() != Some(entity.name.as_str()) {
        return None;
    }
    let owned = owned_fields(cmd, entity);
    let owned_set: HashSet<&str> = owned.iter().map(String::as_str).collect();
    let props = &entity.properties;
    let prop_names: HashSet<&str> = props.iter().map(|p| p.name.as_str()).collect();
    let literal_create = cmd.name == "create";
    let required_init = owned
        .iter()
        .filter(|t| allocates_required_field(cmd, entity, t))
        .count();
    let signal = literal_create || required_init > 0 || initializes_lifecycle_timestamp(cmd);
    if !signal || (owned.is_empty() && !literal_create) {
        return None;
    }
    let params = &cmd.parameters;
    let inputs = sorted(
        params
            .iter()
            .filter(|p| p.trusted_source.is_none())
            .map(|p| p.name.clone())
            .collect(),
    );
    let mut authenticated = Vec::new();
    if let Some(tp) = tenant.and_then(|t| t["property"].as_str())
        && prop_names.contains(tp)
    {
        authenticated.push(tp.to_string());
    }
    for p in params {
        if p.trusted_source.is_some() && prop_names.contains(p.name.as_str()) {
            authenticated.push(p.name.clone());
        }
    }
    let authenticated = sorted(authenticated);
    let optional: HashSet<&str> = params
        .iter()
        .filter(|p| !p.required)
        .map(|p| p.name.as_str())
        .collect();

    let mut defaults = Vec::new();
    for p in props {
        let name = p.name.as_str();
        if owned_set.contains(name) && !optional.contains(name) {
            continue;
        }
        if p.default_value.is_some() {
            defaults.push(default(name, "defaultValue"));
        } else if p.auto_now {
            defaults.push(default(name, "autoNow"));
        }
    }
    if entity.timestamps {
        defaults.push(default("createdAt", "timestamps"));
        defaults.push(default("updatedAt", "timestamps"));
    }
    for v in [&entity.version_property, &entity.version_at_property]
        .into_iter()
        .flatten()
    {
        defaults.push(default(v, "version"));
    }
    let mut lifecycle = Vec::new();
    for p in props {
        let Some(dv) = &p.default_value else {
            continue;
        };
        let name = p.name.as_str();
        let has_transition = entity.transitions.iter().any(|t| t.property == name);
        if has_transition || name == "status" {
            lifecycle.push(IrLifecycleValue {
                property: name.to_string(),
                value: dv.clone(),
            });
        }
    }
    let mut draft: Vec<String> = vec!["id".into()];
    let mut in_draft: HashSet<String> = HashSet::from_iter(["id".to_string()]);
    let mut add = |d: &mut Vec<String>, n: &str| {
        if in_draft.insert(n.to_string()) {
            d.push(n.to_string());
        }
    };
    for n in &authenticated {
        add(&mut draft, n);
    }
    for d in &defaults {
        add(&mut draft, &d.property);
    }
    for l in &lifecycle {
        add(&mut draft, &l.property);
    }
    for n in &inputs {
        if prop_names.contains(n.as_str()) {
            add(&mut draft, n);
        }
    }
    let requirements = sorted(
        props
            .iter()
            .filter(|p| p.has("required") && !p.ty.nullable && p.name != "id")
            .map(|p| p.name.clone())
            .collect(),
    );
    let (mut dynamic, mut redundant) = (Vec::new(), Vec::new());
    // Guards are few (a parse bounded by the source), so an index fits u32.
    for (i, g) in (0u32..).zip(&cmd.guards) {
        if owned.iter().any(|o| asserts_unset(g, o)) {
            redundant.push(i);
        } else {
            dynamic.push(i);
        }
    }
    Some(IrInitialization {
        authenticated_ownership_fields: authenticated,
        command_owned_fields: owned,
        declared_defaults: defaults,
        draft_fields: sorted(draft),
        dynamic_guard_indexes: dynamic,
        final_document_requirements: requirements,
        initialization_inputs: inputs,
        initial_lifecycle_state: lifecycle,
        redundant_guard_indexes: redundant,
    })
}

fn default(property: &str, source: &str) -> IrDeclaredDefault {
    IrDeclaredDefault {
        property: property.to_string(),
        source: source.to_string(),
    }
}

/// Attaches plans; an entity with a planned `create` keeps only that one.
pub(crate) fn attach(entities: &[IrEntity], commands: &mut [IrCommand], tenant: Option<&Value>) {
    // By name; a later declaration wins, as in upstream's Map.
    let by_name: HashMap<&str, &IrEntity> = entities.iter().map(|e| (e.name.as_str(), e)).collect();
    for cmd in commands.iter_mut() {
        let Some(entity) = cmd.entity.as_deref().and_then(|n| by_name.get(n)) else {
            continue;
        };
        if let Some(plan) = build(entity, cmd, tenant) {
            cmd.initialization = Some(plan);
        }
    }
    let planned_create: HashSet<String> = commands
        .iter()
        .filter(|c| c.name == "create" && c.initialization.is_some())
        .filter_map(|c| c.entity.clone())
        .collect();
    for c in commands.iter_mut() {
        let drop = c.name != "create"
            && c.entity
                .as_deref()
                .is_some_and(|e| planned_create.contains(e));
        if drop {
            c.initialization = None;
        }
    }
}
