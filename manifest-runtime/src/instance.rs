//! [`Instance`]: an entity instance as the engine's writes return it, shared with the store.

use std::fmt;
use std::sync::Arc;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value as Json};

use crate::ir::RESERVED_FIELD;
use crate::value::{MAX_SAFE, Value};

/// An instance as [`Engine::create_instance`](crate::Engine::create_instance) and
/// [`update_instance`](crate::Engine::update_instance) return it: its fields (with `id`), read
/// without copying them. On the engine's memory store it is the stored row itself, shared
/// (cloning it is a reference count); [`to_json`](Self::to_json) copies it into JSON when
/// that is what the caller needs, and serialising it writes the same JSON straight from the
/// row, as the reference's `JSON.stringify` of the instance (undefined fields left out).
#[derive(Clone)]
pub struct Instance(pub(crate) Arc<Value>);

impl Instance {
    /// The instance's id (`""` if it has none that is a string).
    pub fn id(&self) -> &str {
        match self.field("id") {
            Some(Value::String(id)) => id,
            _ => "",
        }
    }

    /// The field `name` as JSON (`None` when absent or undefined).
    pub fn get(&self, name: &str) -> Option<Json> {
        self.field(name)?.to_json()
    }

    /// The field `name` as the engine's value.
    pub fn field(&self, name: &str) -> Option<&Value> {
        match &*self.0 {
            Value::Object(fields) if name != RESERVED_FIELD => fields.get(name),
            _ => None,
        }
    }

    /// The fields and `id` as a JSON object (a copy).
    pub fn to_json(&self) -> Map<String, Json> {
        crate::engine::row_json(&self.0)
    }
}

impl fmt::Debug for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Instance").field(&self.to_json()).finish()
    }
}

impl PartialEq for Instance {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.to_json() == other.to_json()
    }
}

impl Serialize for Instance {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &*self.0 {
            Value::Object(fields) => {
                let mut map = serializer.serialize_map(None)?;
                for (k, v) in fields {
                    if k != RESERVED_FIELD && !matches!(v, Value::Undefined) {
                        map.serialize_entry(k, &Js(v))?;
                    }
                }
                map.end()
            }
            other => Js(other).serialize(serializer),
        }
    }
}

/// A value serialised as `JSON.stringify` writes it (what [`Value::to_json`] gives, without
/// building it).
struct Js<'a>(&'a Value);

impl Serialize for Js<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Undefined | Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Number(n) if n.fract() == 0.0 && n.abs() <= MAX_SAFE => {
                // Integral and within ±2^53: exact as an integer, as `Value::to_json` writes it.
                #[allow(clippy::cast_possible_truncation)]
                serializer.serialize_i64(*n as i64)
            }
            Value::Number(n) if n.is_finite() => serializer.serialize_f64(*n),
            Value::Number(_) => serializer.serialize_unit(),
            Value::String(s) => serializer.serialize_str(s),
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&Js(item))?;
                }
                seq.end()
            }
            Value::Object(fields) => {
                let mut map = serializer.serialize_map(None)?;
                for (k, v) in fields {
                    if !matches!(v, Value::Undefined) {
                        map.serialize_entry(k, &Js(v))?;
                    }
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Object;

    #[test]
    fn serialises_as_its_json_copy() {
        let mut nested = Object::new();
        nested.insert("u".into(), Value::Undefined);
        nested.insert("n".into(), Value::Number(f64::NAN));
        let mut fields = Object::new();
        for (k, v) in [
            ("id", Value::String("i1".into())),
            (RESERVED_FIELD, Value::String("Thing".into())),
            ("int", Value::Number(3.0)),
            ("neg0", Value::Number(-0.0)),
            ("big", Value::Number(1e300)),
            ("frac", Value::Number(0.1)),
            ("inf", Value::Number(f64::INFINITY)),
            ("undef", Value::Undefined),
            (
                "list",
                Value::Array(vec![Value::Undefined, Value::Bool(true)]),
            ),
            ("obj", Value::Object(nested)),
        ] {
            fields.insert(k.to_owned(), v);
        }
        let instance = Instance(Arc::new(Value::Object(fields)));
        let written = serde_json::to_value(&instance).unwrap();
        assert_eq!(written, Json::Object(instance.to_json()));
        assert_eq!(instance.id(), "i1");
        assert_eq!(instance.get("int"), Some(Json::from(3)));
        assert_eq!(instance.get(RESERVED_FIELD), None);
        assert_eq!(instance.get("undef"), None);
        assert!(!written.as_object().unwrap().contains_key(RESERVED_FIELD));
    }
}
