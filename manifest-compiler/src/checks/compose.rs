//! Entity composition before lowering: generic templates (`entity P<T>`,
//! `entity A = P<X>`), then `extends` and `mixin` (parent, then mixins, then
//! own members; own members win on a name clash).

use crate::ast::{Entity, Program, TypeRef};
use crate::diagnostic::Diagnostic;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

fn entity_lists(program: &mut Program) -> Vec<&mut Vec<Entity>> {
    let mut lists = vec![&mut program.top.entities];
    for m in &mut program.modules {
        lists.push(&mut m.decls.entities);
    }
    lists
}

fn substitute(ty: &mut TypeRef, subst: &HashMap<String, String>) {
    if let Some(r) = subst.get(&ty.name) {
        ty.name = r.clone();
    }
    if let Some(g) = &mut ty.generic {
        substitute(g, subst);
    }
}

/// Own members first in name set; template members not clashing go before them.
fn merge<T: Clone>(inherited: &[T], own: &mut Vec<T>, name: impl Fn(&T) -> &str) {
    let own_names: HashSet<String> = own.iter().map(|x| name(x).to_string()).collect();
    let mut merged: Vec<T> = inherited
        .iter()
        .filter(|x| !own_names.contains(name(x)))
        .cloned()
        .collect();
    merged.append(own);
    *own = merged;
}

pub(crate) fn expand_generics(program: &mut Program, diags: &mut Vec<Diagnostic>) {
    // Only the generic entities are cloned (templates); the rest are named.
    let mut names: HashSet<String> = HashSet::default();
    let mut index: HashMap<String, Entity> = HashMap::default();
    let mut generic = false;
    for list in entity_lists(program) {
        for e in list.iter() {
            generic |= e.type_args.is_some() || !e.type_params.is_empty();
            names.insert(e.name.clone());
            // As in a map built in declaration order, the last declaration of a name wins.
            if e.type_params.is_empty() {
                index.remove(&e.name);
            } else {
                index.insert(e.name.clone(), e.clone());
            }
        }
    }
    if !generic {
        return;
    }
    for list in entity_lists(program) {
        for e in list.iter_mut() {
            let Some((template_name, args)) = e.type_args.take() else {
                continue;
            };
            if !e.type_params.is_empty() {
                diags.push(Diagnostic::error(format!(
                    "Entity '{}' cannot declare both type parameters and a generic instantiation",
                    e.name
                )));
                continue;
            }
            let Some(template) = index.get(&template_name) else {
                let message = if names.contains(&template_name) {
                    format!(
                        "Entity '{}' instantiates '{template_name}' which is not a generic entity",
                        e.name
                    )
                } else {
                    format!(
                        "Entity '{}' instantiates unknown entity '{template_name}'",
                        e.name
                    )
                };
                diags.push(Diagnostic::error(message));
                continue;
            };
            if args.len() != template.type_params.len() {
                diags.push(Diagnostic::error(format!(
                    "Entity '{}' instantiation of '{template_name}' expects {} type argument(s), got {}",
                    e.name,
                    template.type_params.len(),
                    args.len()
                )));
                continue;
            }
            let subst: HashMap<String, String> = template
                .type_params
                .iter()
                .cloned()
                .zip(args.iter().cloned())
                .collect();
            let mut t = template.clone();
            for p in &mut t.properties {
                substitute(&mut p.ty, &subst);
            }
            for c in &mut t.computed {
                substitute(&mut c.ty, &subst);
            }
            for r in &mut t.relationships {
                if let Some(x) = subst.get(&r.target) {
                    r.target = x.clone();
                }
            }
            for c in &mut t.commands {
                for p in &mut c.parameters {
                    substitute(&mut p.ty, &subst);
                }
                if let Some(r) = &mut c.returns {
                    substitute(r, &subst);
                }
            }
            merge(&t.properties, &mut e.properties, |p| &p.name);
            merge(&t.computed, &mut e.computed, |p| &p.name);
            merge(&t.relationships, &mut e.relationships, |p| &p.name);
            merge(&t.constraints, &mut e.constraints, |p| &p.name);
            merge(&t.policies, &mut e.policies, |p| &p.name);
            merge(&t.commands, &mut e.commands, |p| &p.name);
            if e.parent.is_none() {
                e.parent = t.parent.clone();
            }
            if e.mixins.is_none() {
                e.mixins = t.mixins.clone();
            }
            if e.store.is_none() {
                e.store = t.store.clone();
            }
            if e.key.is_none() {
                e.key = t.key.clone();
            }
            e.timestamps |= t.timestamps;
            e.realtime |= t.realtime;
        }
    }
    for list in entity_lists(program) {
        list.retain(|e| e.type_params.is_empty());
    }
}

pub(crate) fn expand_composition(program: &mut Program, diags: &mut Vec<Diagnostic>) {
    let mut names: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::default();
    for list in entity_lists(program) {
        for e in list.iter() {
            if !seen.insert(e.name.clone()) {
                diags.push(Diagnostic::error(format!(
                    "Duplicate entity declaration '{}'",
                    e.name
                )));
            } else {
                names.push(e.name.clone());
            }
        }
    }
    let index: HashMap<String, (Option<String>, Vec<String>)> = entity_lists(program)
        .iter()
        .flat_map(|l| l.iter())
        .map(|e| {
            (
                e.name.clone(),
                (e.parent.clone(), e.mixins.clone().unwrap_or_default()),
            )
        })
        .collect();
    // Unknown bases and cycles, depth-first in declaration order.
    let mut validated: HashSet<String> = HashSet::default();
    for name in &names {
        validate(name, &index, &mut validated, &mut Vec::new(), diags);
    }
    // Expand in declaration order; each entity's bases are expanded first.
    // Only entities with bases change; `expand` reaches their bases itself.
    let mut composite: HashSet<String> = HashSet::default();
    for list in entity_lists(program) {
        for e in list.iter() {
            if e.parent.is_some() || e.mixins.is_some() {
                composite.insert(e.name.clone());
            }
        }
    }
    if composite.is_empty() {
        return;
    }
    let mut expanded: HashMap<String, Entity> = HashMap::default();
    for name in names.iter().filter(|n| composite.contains(n.as_str())) {
        expand(
            name,
            program,
            &index,
            &mut expanded,
            &mut HashSet::default(),
        );
    }
    for list in entity_lists(program) {
        for e in list.iter_mut() {
            if let Some(x) = expanded.get(&e.name)
                && (e.parent.is_some() || e.mixins.is_some())
            {
                *e = x.clone();
            }
        }
    }
}

type Graph = HashMap<String, (Option<String>, Vec<String>)>;

fn validate(
    name: &str,
    g: &Graph,
    done: &mut HashSet<String>,
    stack: &mut Vec<String>,
    diags: &mut Vec<Diagnostic>,
) {
    if done.contains(name) {
        return;
    }
    if stack.iter().any(|s| s == name) {
        diags.push(Diagnostic::error(format!(
            "Cycle detected in entity inheritance involving '{name}'"
        )));
        return;
    }
    let Some((parent, mixins)) = g.get(name) else {
        return;
    };
    if stack.len() > 256 {
        return;
    }
    stack.push(name.to_string());
    if let Some(p) = parent {
        if g.contains_key(p) {
            validate(p, g, done, stack, diags);
        } else {
            diags.push(Diagnostic::error(format!(
                "Entity '{name}' extends unknown entity '{p}'"
            )));
        }
    }
    for m in mixins {
        if g.contains_key(m) {
            validate(m, g, done, stack, diags);
        } else {
            diags.push(Diagnostic::error(format!(
                "Entity '{name}' mixes unknown entity '{m}'"
            )));
        }
    }
    stack.pop();
    done.insert(name.to_string());
}

fn find<'a>(program: &'a Program, name: &str) -> Option<&'a Entity> {
    program
        .top
        .entities
        .iter()
        .chain(program.modules.iter().flat_map(|m| m.decls.entities.iter()))
        .find(|e| e.name == name)
}

fn expand(
    name: &str,
    program: &Program,
    g: &Graph,
    done: &mut HashMap<String, Entity>,
    visiting: &mut HashSet<String>,
) {
    if done.contains_key(name) || visiting.contains(name) || visiting.len() > 256 {
        return;
    }
    let Some(own) = find(program, name) else {
        return;
    };
    visiting.insert(name.to_string());
    let mut e = own.clone();
    let (parent, mixins) = g.get(name).cloned().unwrap_or_default();
    let bases: Vec<String> = parent.into_iter().chain(mixins).collect();
    let (mut props, mut computed, mut rels, mut cons, mut pols, mut cmds) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    for base in &bases {
        expand(base, program, g, done, visiting);
        let b = match done.get(base) {
            Some(b) => b.clone(),
            None => match find(program, base) {
                Some(b) => b.clone(),
                None => continue,
            },
        };
        props.extend(b.properties);
        computed.extend(b.computed);
        rels.extend(b.relationships);
        cons.extend(b.constraints);
        pols.extend(b.policies);
        cmds.extend(b.inherited_commands);
        cmds.extend(b.commands.iter().map(|c| c.name.clone()));
    }
    merge(&props, &mut e.properties, |p| &p.name);
    merge(&computed, &mut e.computed, |p| &p.name);
    merge(&rels, &mut e.relationships, |p| &p.name);
    merge(&cons, &mut e.constraints, |p| &p.name);
    merge(&pols, &mut e.policies, |p| &p.name);
    let own_cmds: HashSet<&str> = e.commands.iter().map(|c| c.name.as_str()).collect();
    e.inherited_commands = cmds
        .into_iter()
        .filter(|c| !own_cmds.contains(c.as_str()))
        .collect();
    visiting.remove(name);
    done.insert(name.to_string(), e);
}
