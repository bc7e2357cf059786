//! [`Working`]: what one command run (or update) has changed so far, applied lazily.

use super::*;

/// What one command run has changed so far.
///
/// A change goes into `patch` and marks `this` stale; `this` takes the patch (copying the row
/// as read, which the store still holds) only when something reads it again. A command whose
/// last action is its only change (`mutate` then `emit`, the common shape) never copies the
/// row: the memory store applies the patch to its row in place.
pub(super) struct Working {
    /// The instance as expressions see it: shared with `read` until the first change is
    /// applied to it.
    pub(super) this: Option<Row>,
    /// Whether `this` lacks changes in `patch` ([`materialize`](Self::materialize) applies
    /// them).
    pub(super) stale: bool,
    /// The instance the next write expects: as read, then as last written.
    pub(super) read: Option<Read>,
    /// The fields changed since `read`.
    pub(super) patch: Object,
    pub(super) version_bumped: bool,
    /// Whether a `persist` action has written.
    pub(super) written: bool,
}

impl Working {
    pub(super) fn new(read: Option<Read>) -> Self {
        Working {
            this: read.as_ref().map(|r| r.this.clone()),
            stale: false,
            read,
            patch: Object::new(),
            version_bumped: false,
            written: false,
        }
    }

    /// Apply the changes `this` lacks (see [`Working`]).
    pub(super) fn materialize(&mut self, entity: &str) {
        if self.stale {
            if let Some(this) = &mut self.this {
                apply_patch(this, &self.patch, entity);
            }
            self.stale = false;
        }
    }

    /// The instance's fields (with `_entity`) with every change, if there is an instance.
    pub(super) fn fields(&mut self, entity: &str) -> Option<&Object> {
        self.materialize(entity);
        self.this.as_deref().map(fields)
    }

    /// Whether the instance with every change has the field `name` (without applying them).
    pub(super) fn has_field(&self, name: &str) -> bool {
        self.patch.contains_key(name)
            || self
                .this
                .as_deref()
                .is_some_and(|this| fields(this).contains_key(name))
    }

    /// `self`/`this`: the instance with every change, or `null`.
    pub(super) fn this_value(&mut self, entity: Option<&str>) -> &Value {
        static NULL: Value = Value::Null;
        if let Some(entity) = entity {
            self.materialize(entity);
        }
        self.this.as_deref().unwrap_or(&NULL)
    }

    /// The instance as read (or last written) and its working copy, taken out for a write.
    pub(super) fn take_for_write(&mut self) -> Option<(Read, Row)> {
        Some((self.read.take()?, self.this.take()?))
    }

    /// After a write: the instance as written is both what was read and the working copy.
    pub(super) fn written(&mut self, row: Read) {
        self.this = Some(row.this.clone());
        self.read = Some(row);
        self.stale = false;
        self.patch.clear();
        self.written = true;
    }
}
