//! Conversions between JSON, the engine's values and store rows, and patches applied to rows.

use super::*;

pub(super) fn to_object(map: &Map<String, Json>) -> Object {
    insert_all(
        Object::new(),
        map.iter().map(|(k, v)| (k.clone(), Value::from(v))),
    )
}

/// [`to_object`], taking the keys and strings over instead of copying them.
pub(super) fn into_object(map: Map<String, Json>) -> Object {
    insert_all(
        Object::new(),
        map.into_iter().map(|(k, v)| (k, Value::from(v))),
    )
}

pub(super) fn instance_object(instance: &EntityInstance) -> Object {
    let mut object = to_object(&instance.fields);
    object.insert("id".to_owned(), Value::String(instance.id.clone()));
    object
}

pub(super) fn to_instance(object: &Object) -> EntityInstance {
    let mut fields = json_object(object);
    let id = match fields.remove("id") {
        Some(Json::String(id)) => id,
        Some(other) => other.to_string(),
        None => String::new(),
    };
    EntityInstance { id, fields }
}

pub(super) static EMPTY: Object = Object::new();

/// The instance with `_entity` (when the entity is known): what `self` and `this` are.
pub(super) fn enriched(instance: &Object, entity: Option<&str>) -> Value {
    let mut i = instance.clone();
    if let Some(entity) = entity {
        i.insert("_entity".to_owned(), Value::String(entity.to_owned()));
    }
    Value::Object(i)
}

/// Apply `patch` to a row (in place when nothing else holds it); `_entity` stays the entity's
/// name (the IR loader and the engine's operations refuse `_entity`; this keeps the row right
/// whatever a patch holds).
pub(super) fn apply_patch(row: &mut Row, patch: &Object, entity: &str) {
    if let Value::Object(fields) = Arc::make_mut(row) {
        assign(fields, patch);
        if patch.contains_key(ENTITY_KEY) {
            fields.insert(ENTITY_KEY.to_owned(), Value::String(entity.to_owned()));
        }
    }
}

/// Set each field of `data` in `object`, in place.
pub(super) fn assign(object: &mut Object, data: &Object) {
    for (k, v) in data {
        match object.get_mut(k) {
            Some(slot) => *slot = v.clone(),
            None => {
                object.insert(k.clone(), v.clone());
            }
        }
    }
}
