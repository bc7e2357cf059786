//! Changing an instance: `mutate` applies a change to the working copy with the reference's
//! checks (readonly properties, versions, state transitions, entity constraints), and `flush`
//! writes the working copy against the instance as read.

use super::*;

impl Engine {
    /// Apply `data` to the working copy with the reference's checks. `Err(stop)` ends the
    /// command with that result; a blocking entity constraint silently skips the change, as
    /// the reference does.
    pub(super) fn mutate(
        &self,
        entity: &IrEntity,
        id: &str,
        working: &mut Working,
        mut data: Object,
        in_command: bool,
        related: &Related,
    ) -> Result<(), Halt> {
        let Some(existing) = working.fields(&entity.name) else {
            return Ok(());
        };
        for prop in entity.properties.iter().filter(|p| p.flags.readonly) {
            if let Some(new) = data.get(&prop.name)
                && !new.strict_eq(existing.get(&prop.name).unwrap_or(&Value::Undefined))
            {
                let message = format!(
                    "Property '{}' is readonly and cannot be modified after creation",
                    prop.name
                );
                return Err(Halt::result(CommandResult::failure(format!(
                    "E_READONLY: {message}"
                ))));
            }
        }
        if let Some(version) = &entity.version_property {
            let current = existing.get(version).cloned().unwrap_or(Value::Undefined);
            let provided = data.get(version).cloned().unwrap_or(Value::Undefined);
            if !matches!(current, Value::Undefined) && !matches!(provided, Value::Undefined) {
                if !current.strict_eq(&provided) {
                    let conflict = ConcurrencyConflict {
                        entity_type: entity.name.clone(),
                        entity_id: id.to_owned(),
                        expected_version: provided.to_json().unwrap_or(Json::Null),
                        actual_version: current.to_json().unwrap_or(Json::Null),
                        conflict_code: "VERSION_MISMATCH".to_owned(),
                    };
                    return Err(Halt::result(CommandResult {
                        error: Some(format!(
                            "Concurrency conflict on {}#{id}: expected version {}, actual {}",
                            entity.name,
                            provided.to_js_string(),
                            current.to_js_string()
                        )),
                        concurrency_conflict: Some(conflict),
                        ..CommandResult::default()
                    }));
                }
            } else if matches!(provided, Value::Undefined)
                && !(in_command && working.version_bumped)
            {
                let base = match current {
                    Value::Number(n) => n,
                    _ => 0.0,
                };
                data.insert(version.clone(), Value::Number(base + 1.0));
                working.version_bumped = in_command;
            }
        }
        if let Some(at) = &entity.version_at_property {
            data.insert(at.clone(), self.now_value());
        }
        if entity.timestamps {
            data.insert("updatedAt".to_owned(), self.now_value());
        }
        let Some(existing) = working.fields(&entity.name) else {
            return Ok(());
        };
        for (prop, new) in &data {
            let Some(current) = existing.get(prop) else {
                continue;
            };
            // Only properties with a transition rule: `to_js_string` is not free.
            if matches!(current, Value::Undefined)
                || !entity.transitions.iter().any(|t| &t.property == prop)
            {
                continue;
            }
            let from = current.to_js_string();
            let to = new.to_js_string();
            if let Some(rule) = entity
                .transitions
                .iter()
                .find(|t| &t.property == prop && t.from == from)
                && !rule.to.contains(&to)
            {
                let allowed: Vec<String> = rule.to.iter().map(|v| format!("'{v}'")).collect();
                return Err(Halt::result(CommandResult::failure(format!(
                    "Invalid state transition for '{prop}': '{from}' -> '{to}' is not allowed. Allowed from '{from}': [{}]",
                    allowed.join(", ")
                ))));
            }
        }
        if entity.constraints.is_empty() {
            // Nothing can block the change: `this` takes it when it is next read.
            working.stale = true;
        } else {
            let mut merged = existing.clone();
            merged.extend(data.iter().map(|(k, v)| (k.clone(), v.clone())));
            if data.contains_key(ENTITY_KEY) {
                merged.insert(ENTITY_KEY.to_owned(), Value::String(entity.name.clone()));
            }
            let failed = self.failed_constraints(entity, &merged, related)?;
            if failed.iter().any(is_blocking) {
                // In a command the blocked change is not applied and the command goes on, as in
                // the reference; `update_instance` reports it.
                return if in_command {
                    Ok(())
                } else {
                    Err(Halt::Blocked(failed))
                };
            }
            working.this = Some(Arc::new(Value::Object(merged)));
        }
        if working.patch.is_empty() {
            working.patch = data;
        } else {
            working.patch.extend(data);
        }
        Ok(())
    }

    /// Write the working copy against the instance as read (or as last written), with
    /// [`Rows::write`]. `Err(Halt::Changed)` when the instance changed or vanished since.
    pub(super) async fn flush(
        &self,
        unit: &Unit,
        index: usize,
        id: &str,
        working: &mut Working,
    ) -> Result<(), Halt> {
        if working.patch.is_empty() {
            return Ok(());
        }
        let Some((read, this)) = working.take_for_write() else {
            return Ok(());
        };
        let entity = &self.program.ir.entities[index].name;
        let before = unit.journaled().then(|| read.clone());
        match self
            .rows_in(unit, index)
            .write(id, read, this, working.stale, &working.patch, entity)
            .await?
        {
            Some(row) => {
                if let Some(before) = before {
                    unit.wrote(index, id, before, row.clone());
                }
                working.written(row);
                Ok(())
            }
            None => Err(Halt::Changed {
                written: working.written,
            }),
        }
    }
}
