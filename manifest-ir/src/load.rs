//! Loading IR: from JSON text or a `serde_json::Value`, with its depth checked up front, its
//! shape checked with the JSON path of any error, and its names validated; and [`Ir`]'s
//! lookups.

use serde_json::Value as Json;

use crate::IR_VERSION;
use crate::command::ActionKind;
use crate::command::IrPolicy;
use crate::depth::{drop_deep, json_path_past};
use crate::entity::{IrEntity, Modifiers};
use crate::program::{Ir, IrStore};

/// IR that cannot be loaded: where, and what was expected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IrError {
    /// The JSON is malformed, or a value has the wrong shape.
    #[error("invalid IR at `{path}`: {message}")]
    Shape {
        /// The JSON path, such as `commands[0].guards[1].kind`.
        path: String,
        /// What serde expected.
        message: String,
    },
    /// The IR is of a version this runtime does not execute.
    #[error("unsupported IR version `{found}` at `version`: expected `{IR_VERSION}`")]
    Version {
        /// The version found.
        found: String,
    },
    /// The text is not JSON.
    #[error("IR is not valid JSON at line {line}, column {column}: {message}")]
    Syntax {
        /// The line of the error, from 1.
        line: usize,
        /// The column of the error, from 1.
        column: usize,
        /// What the parser reported.
        message: String,
    },
    /// A name refers to something the IR does not declare.
    #[error("invalid IR at `{path}`: {message}")]
    Reference {
        /// The JSON path of the reference.
        path: String,
        /// What is missing.
        message: String,
    },
    /// The JSON nests deeper than [`MAX_IR_DEPTH`] levels (a deeply nested expression):
    /// loading, formatting or evaluating it would overflow the stack.
    #[error("invalid IR at `{path}`: nested deeper than {limit} levels")]
    TooDeep {
        /// The JSON path of the first value past the limit.
        path: String,
        /// The limit ([`MAX_IR_DEPTH`]).
        limit: usize,
    },
    /// A property or a `mutate` target uses a name the runtime reserves (`_entity`, which
    /// expressions see as the entity's name).
    #[error("invalid IR at `{path}`: `{name}` is reserved by the runtime")]
    Reserved {
        /// The JSON path of the name.
        path: String,
        /// The name.
        name: String,
    },
}

/// How deeply IR JSON may nest, the outermost object counting as 1: 128, the recursion
/// limit of serde_json's parser, so [`Ir::from_json`] accepts exactly the documents
/// [`Ir::from_json_str`] does. An expression takes one or two levels a level of nesting
/// (`not x` one, an array literal two), so expressions may nest about 60 to 120 deep,
/// beyond anything written by hand, and well within the stack of every recursive pass over
/// them (loading, evaluating, formatting, dropping).
pub const MAX_IR_DEPTH: usize = 128;

/// An informational field: its value when it has the expected shape, else none (loading
/// does not fail on what the runtime does not read).
pub(crate) fn lenient<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = <Json as serde::Deserialize>::deserialize(d)?;
    Ok(serde_json::from_value(value).ok())
}

/// The field name the runtime reserves: `self._entity` is the entity's name.
pub const RESERVED_FIELD: &str = "_entity";

impl Ir {
    /// Load IR from JSON text, with errors that name the JSON path.
    pub fn from_json_str(text: &str) -> Result<Ir, IrError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let ir: Ir = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.to_string().starts_with("recursion limit exceeded") {
                IrError::TooDeep {
                    path,
                    limit: MAX_IR_DEPTH,
                }
            } else if inner.is_syntax() || inner.is_eof() {
                IrError::Syntax {
                    line: inner.line(),
                    column: inner.column(),
                    message: inner.to_string(),
                }
            } else {
                IrError::Shape {
                    path,
                    message: inner.to_string(),
                }
            }
        })?;
        ir.validate()?;
        Ok(ir.with_flags())
    }

    /// Load IR from a JSON value. JSON nested deeper than [`MAX_IR_DEPTH`] is
    /// [`IrError::TooDeep`], found without recursion before anything is loaded.
    pub fn from_json(value: Json) -> Result<Ir, IrError> {
        if let Some(path) = json_path_past(&value, MAX_IR_DEPTH) {
            drop_deep(value);
            return Err(IrError::TooDeep {
                path,
                limit: MAX_IR_DEPTH,
            });
        }
        let ir: Ir = serde_path_to_error::deserialize(value).map_err(|e| IrError::Shape {
            path: e.path().to_string(),
            message: e.into_inner().to_string(),
        })?;
        ir.validate()?;
        Ok(ir.with_flags())
    }

    /// A program built in code (by the compiler, say), checked as loading checks one: its
    /// version, the names it refers to, the reserved field; with its property flags read.
    pub fn checked(self) -> Result<Ir, IrError> {
        self.validate()?;
        Ok(self.with_flags())
    }

    /// Read each property's modifiers into its [`flags`](crate::IrProperty::flags) (loading
    /// does this; a program built in code calls it before it is run).
    pub fn with_flags(mut self) -> Self {
        for entity in &mut self.entities {
            for property in &mut entity.properties {
                property.flags = Modifiers::of(&property.modifiers);
            }
        }
        self
    }

    /// Check the version, the names commands and stores refer to, and the reserved field.
    pub fn validate(&self) -> Result<(), IrError> {
        if self.version != IR_VERSION {
            return Err(IrError::Version {
                found: self.version.clone(),
            });
        }
        let reference = |path: String, message: String| IrError::Reference { path, message };
        let reserved = |path: String| IrError::Reserved {
            path,
            name: RESERVED_FIELD.to_owned(),
        };
        for (i, entity) in self.entities.iter().enumerate() {
            if let Some(j) = entity
                .properties
                .iter()
                .position(|p| p.name == RESERVED_FIELD)
            {
                return Err(reserved(format!("entities[{i}].properties[{j}].name")));
            }
        }
        for (i, command) in self.commands.iter().enumerate() {
            if let Some(j) = command.actions.iter().position(|a| {
                a.kind == ActionKind::Mutate && a.target.as_deref() == Some(RESERVED_FIELD)
            }) {
                return Err(reserved(format!("commands[{i}].actions[{j}].target")));
            }
            if let Some(entity) = &command.entity
                && self.entity(entity).is_none()
            {
                return Err(reference(
                    format!("commands[{i}].entity"),
                    format!("command `{}` names unknown entity `{entity}`", command.name),
                ));
            }
            for (j, policy) in command.policies.iter().enumerate() {
                if self.policy(policy).is_none() {
                    return Err(reference(
                        format!("commands[{i}].policies[{j}]"),
                        format!("command `{}` names unknown policy `{policy}`", command.name),
                    ));
                }
            }
        }
        for (i, store) in self.stores.iter().enumerate() {
            if self.entity(&store.entity).is_none() {
                return Err(reference(
                    format!("stores[{i}].entity"),
                    format!("store names unknown entity `{}`", store.entity),
                ));
            }
        }
        Ok(())
    }

    /// The entity called `name`.
    pub fn entity(&self, name: &str) -> Option<&IrEntity> {
        self.entities.iter().find(|e| e.name == name)
    }

    /// The policy called `name`.
    pub fn policy(&self, name: &str) -> Option<&IrPolicy> {
        self.policies.iter().find(|p| p.name == name)
    }

    /// The store declaration of `entity`, if any.
    pub fn store_of(&self, entity: &str) -> Option<&IrStore> {
        self.stores.iter().find(|s| s.entity == entity)
    }
}
