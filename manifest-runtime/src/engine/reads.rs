//! The public read surface (`get_instance`, `get_all_instances`): read policies, `private`
//! properties and masking, as the reference applies them (`getInstance`, `applyMasking`,
//! `passesReadGate`; docs/spec/semantics.md, "Property Masking" and "Policies").
//!
//! Only these reads are gated and masked: commands, policies, constraints, computed
//! properties and relationships always see the real values, and `create_instance` and
//! `update_instance` return them, as the reference's do.

use serde_json::{Map, Value as Json};

use super::relations::Related;
use super::rows::{Row, row_id, row_json};
use super::{EMPTY, Engine, RuntimeError, Unit};
use crate::ir::{Ir, IrEntity, IrMaskStrategy, IrPolicy, MaskKind, PolicyAction};
use crate::value::Value;

/// Whether reads of `entity` are gated or masked at all (worked out once, when the engine is
/// built).
pub(super) fn projects_reads(ir: &Ir, entity: &IrEntity) -> bool {
    entity
        .properties
        .iter()
        .any(|p| p.mask_strategy.is_some() || p.flags.private)
        || read_policies(ir, entity).next().is_some()
}

/// The policies that gate reads of `entity` (action `read` or `all`, for it or for every
/// entity), in declaration order.
fn read_policies<'a>(ir: &'a Ir, entity: &'a IrEntity) -> impl Iterator<Item = &'a IrPolicy> {
    ir.policies.iter().filter(move |p| {
        matches!(p.action, PolicyAction::Read | PolicyAction::All)
            && p.entity.as_deref().is_none_or(|e| e == entity.name)
    })
}

/// One page of [`Engine::list_instances`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct InstancePage {
    /// The instances the caller may see, as [`Engine::get_instance`] shows each, by id.
    pub instances: Vec<Map<String, Json>>,
    /// Where the next page starts (pass it as `after`): the last id this page read, or `None`
    /// when the store has no more. A page the read policies thinned can hold fewer than
    /// `limit` instances, or none, and still have a next page.
    pub next: Option<String>,
}

impl Engine {
    /// A page of the entity's instances: the store's next `limit` (at least 1) ids after
    /// `after`, read as one keyset range (`WHERE tenant = ? AND id > ? ORDER BY id LIMIT ?` on
    /// SQL), then gated and masked as [`get_all_instances`](Self::get_all_instances) does.
    /// The cost is the page's, whatever the size of the table.
    pub async fn list_instances(
        &self,
        entity_name: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<InstancePage, RuntimeError> {
        let index = self.index_of(entity_name)?;
        let entity = &self.program.ir.entities[index];
        let limit = limit.max(1);
        let unit = self.operation().await?;
        let rows = self
            .rows_in(&unit, index)
            .page(entity_name, after, limit)
            .await?;
        let next = match rows.last() {
            Some(last) if rows.len() == limit as usize => row_id(last),
            _ => None,
        };
        let instances = if self.program.projects_reads[index] {
            self.project_all(&unit, entity, &rows).await?
        } else {
            rows.iter().map(|row| row_json(row)).collect()
        };
        unit.commit().await?;
        Ok(InstancePage { instances, next })
    }

    /// `row` as a read returns it: `None` when a read policy denies it (fail-closed: a policy
    /// that is false or cannot be evaluated denies), else its fields without `private`
    /// properties and with `masked` ones masked.
    pub(super) fn project(
        &self,
        entity: &IrEntity,
        row: &Row,
        related: &Related,
    ) -> Option<Map<String, Json>> {
        let scope = self.scope_over(row, &EMPTY, &EMPTY);
        for policy in read_policies(&self.program.ir, entity) {
            let allowed = self.eval_truthy(&policy.expression, &scope, related, String::new);
            if !matches!(allowed, Ok(true)) {
                return None;
            }
        }
        let mut out = row_json(row);
        for prop in &entity.properties {
            if prop.flags.private {
                out.remove(&prop.name);
                continue;
            }
            let Some(strategy) = &prop.mask_strategy else {
                continue;
            };
            let Some(value) = out.get_mut(&prop.name) else {
                continue;
            };
            if value.is_null() {
                continue;
            }
            // An `unmask when` that is false or cannot be evaluated keeps the mask.
            if let Some(when) = &strategy.unmask_when
                && matches!(
                    self.eval_truthy(when, &scope, related, String::new),
                    Ok(true)
                )
            {
                continue;
            }
            *value = Json::String(mask(strategy, &Value::from(&*value).to_js_string()));
        }
        Some(out)
    }

    /// [`project`](Self::project) for each row, leaving out the denied ones.
    pub(super) async fn project_all(
        &self,
        unit: &Unit,
        entity: &IrEntity,
        rows: &[Row],
    ) -> Result<Vec<Map<String, Json>>, RuntimeError> {
        self.resolving(unit, |related| {
            Ok(rows
                .iter()
                .filter_map(|row| self.project(entity, row, related))
                .collect())
        })
        .await
    }
}

/// `value` (a JavaScript string) masked by `strategy` (the reference's `applyMaskStrategy`).
/// Lengths and positions count UTF-16 code units, as JavaScript's do.
pub(crate) fn mask(strategy: &IrMaskStrategy, value: &str) -> String {
    let units: Vec<u16> = value.encode_utf16().collect();
    let len = units.len();
    let slice = |from: usize, to: usize| String::from_utf16_lossy(&units[from..to]);
    match strategy.kind {
        MaskKind::Redact => "***".to_owned(),
        MaskKind::Partial => {
            // `[keepStart = 0, keepEnd = 0]`, as whole numbers of at least 0.
            let keep = |i: usize| {
                let n = strategy.params.get(i).copied().unwrap_or(0.0);
                if n.is_nan() || n <= 0.0 {
                    0
                } else {
                    // Saturating: a keep count beyond the length keeps everything.
                    n.trunc().min(len as f64) as usize
                }
            };
            let (start, end) = (keep(0), keep(1));
            if start + end >= len {
                return "*".repeat(len);
            }
            format!(
                "{}{}{}",
                slice(0, start),
                "*".repeat(len - start - end),
                slice(len - end, len)
            )
        }
        MaskKind::Email => match units.iter().position(|&u| u == u16::from(b'@')) {
            None | Some(0) => "***".to_owned(),
            Some(at) => format!("{}***@{}", slice(0, 1), slice(at + 1, len)),
        },
        MaskKind::Phone => {
            let digits: Vec<char> = value.chars().filter(char::is_ascii_digit).collect();
            if digits.len() < 4 {
                return "***".to_owned();
            }
            let last: String = digits[digits.len() - 4..].iter().collect();
            format!("***-***-{last}")
        }
        MaskKind::Last4 => {
            if len <= 4 {
                "****".to_owned()
            } else {
                format!("****{}", slice(len - 4, len))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strategy(kind: MaskKind, params: &[f64]) -> IrMaskStrategy {
        IrMaskStrategy {
            kind,
            params: params.to_vec(),
            unmask_when: None,
        }
    }

    /// Expected values computed with the reference's `applyMaskStrategy` (node).
    #[test]
    fn masks_match_the_reference() {
        let cases: &[(MaskKind, &[f64], &str, &str)] = &[
            (MaskKind::Redact, &[], "anything", "***"),
            (MaskKind::Partial, &[0.0, 4.0], "123-45-6789", "*******6789"),
            (MaskKind::Partial, &[2.0, 2.0], "abcdef", "ab**ef"),
            (MaskKind::Partial, &[3.0, 3.0], "abcdef", "******"),
            (MaskKind::Partial, &[], "abc", "***"),
            (MaskKind::Partial, &[1.0], "abc", "a**"),
            (MaskKind::Partial, &[1.0, 1.0], "a😀b", "a**b"),
            (
                MaskKind::Email,
                &[],
                "alice@example.com",
                "a***@example.com",
            ),
            (MaskKind::Email, &[], "@example.com", "***"),
            (MaskKind::Email, &[], "no-at-sign", "***"),
            (MaskKind::Phone, &[], "555-867-5309", "***-***-5309"),
            (MaskKind::Phone, &[], "12a3", "***"),
            (MaskKind::Last4, &[], "4111111111111111", "****1111"),
            (MaskKind::Last4, &[], "1234", "****"),
            (MaskKind::Last4, &[], "ab😀cd", "****😀cd"),
        ];
        for (kind, params, value, expected) in cases {
            assert_eq!(
                mask(&strategy(*kind, params), value),
                *expected,
                "{kind:?} {params:?} {value}"
            );
        }
    }
}
