//! Entities and what only they contain: properties, computed properties,
//! relationships, constraints, transitions and approvals.

use super::numbers::{js_number, js_parse_float};
use super::{Fail, PResult, Parser};
use crate::ast::*;
use crate::lexer::TokenKind;

/// Property modifiers (`masked` is contextual and handled apart).
const PROPERTY_MODIFIERS: &[&str] = &[
    "required",
    "unique",
    "indexed",
    "private",
    "readonly",
    "optional",
    "searchable",
    "encrypted",
];

impl<'a> Parser<'a> {
    pub(crate) fn entity(&mut self) -> PResult<Entity> {
        let mut e = Entity::default();
        if self.ident_is("external") {
            self.advance();
            e.external = true;
        }
        self.expect_kw("entity")?;
        e.name = self.identifier()?;
        if self.op("<") {
            self.advance();
            while !self.op(">") && !self.is_end() {
                e.type_params.push(self.identifier()?);
                if self.punct(",") {
                    self.advance();
                } else {
                    break;
                }
            }
            self.expect_op(">")?;
        } else if self.op("=") {
            self.advance();
            let template = self.identifier()?;
            let mut args = Vec::new();
            self.expect_op("<")?;
            while !self.op(">") && !self.is_end() {
                args.push(self.word()?);
                if self.punct(",") {
                    self.advance();
                } else {
                    break;
                }
            }
            self.expect_op(">")?;
            e.type_args = Some((template, args));
        }
        if self.kw("extends") {
            self.advance();
            e.parent = Some(self.identifier()?);
        }
        if self.ident_is("mixin") {
            self.advance();
            let mut mixins = vec![self.identifier()?];
            while self.punct(",") {
                self.advance();
                mixins.push(self.identifier()?);
            }
            e.mixins = Some(mixins);
        }
        self.braced(|p| p.entity_member(&mut e))?;
        Ok(e)
    }

    fn entity_member(&mut self, e: &mut Entity) -> PResult<()> {
        let t = self.current().clone();
        let is_kw = t.kind == TokenKind::Keyword;
        match &*t.value {
            "property" if is_kw => e.properties.push(self.property()?),
            "computed" | "derived" if is_kw => e.computed.push(self.computed()?),
            "hasMany" | "hasOne" | "belongsTo" | "ref" if is_kw => {
                e.relationships.push(self.relationship()?)
            }
            "behavior" if is_kw => e.behaviors.push(self.behavior()?),
            "on" if is_kw => {
                let reaction = self.nth(1).is_some_and(|t| t.kind == TokenKind::Identifier)
                    && self.nth(2).is_some_and(|t| {
                        t.kind == TokenKind::Keyword && (t.value == "run" || t.value == "fanOut")
                    });
                if reaction {
                    e.reactions.push(self.reaction()?);
                } else {
                    e.behaviors.push(self.behavior()?);
                }
            }
            "async" if is_kw => {
                self.advance();
                if !self.kw("command") {
                    return Err(Fail("Expected 'command' after 'async'".into()));
                }
                let mut cmd = self.command()?;
                cmd.is_async = true;
                e.commands.push(cmd);
            }
            "command" if is_kw => e.commands.push(self.command()?),
            "constraint" if is_kw => e.constraints.push(self.constraint()?),
            "policy" if is_kw => e.policies.push(self.policy(false)?),
            "policies" if !is_kw && self.next_value_is(1, "{") => {
                self.advance();
                let mut refs = Vec::new();
                self.braced(|p| {
                    refs.push(p.identifier()?);
                    if p.punct(",") {
                        p.advance();
                    }
                    Ok(())
                })?;
                self.skip_nl();
                e.policy_refs = Some(refs);
            }
            "default" if is_kw => {
                self.advance();
                if !self.kw("policy") {
                    return Err(Fail("Expected 'policy' after 'default'".into()));
                }
                e.policies.push(self.policy(true)?);
            }
            "store" if is_kw => {
                if self.next_value_is(1, "in") {
                    self.advance();
                    self.advance();
                    e.store = Some(self.take_value());
                } else if self.next_value_is(2, "in") {
                    e.store = Some(self.store()?.target);
                } else {
                    self.advance();
                    e.store = Some(self.take_value());
                }
            }
            "versionProperty" | "versionAtProperty" if is_kw => {
                self.advance();
                let name = self.identifier()?;
                if self.op(":") {
                    self.advance();
                    self.advance();
                }
                if t.value == "versionProperty" {
                    e.version_property = Some(name);
                } else {
                    e.version_at_property = Some(name);
                }
            }
            "key" if is_kw => {
                self.advance();
                e.key = Some(self.identifier_array()?);
            }
            "unique" if is_kw && self.next_value_is(1, "[") => {
                self.advance();
                let keys = self.identifier_array()?;
                e.alternate_keys.push(keys);
            }
            "transition" if is_kw => e.transitions.push(self.transition()?),
            "approval" if is_kw => e.approvals.push(self.approval()?),
            "timestamps" if is_kw => {
                self.advance();
                e.timestamps = true;
            }
            "realtime" if !is_kw => {
                self.advance();
                e.realtime = true;
            }
            "schedule"
                if !is_kw
                    && self.nth(1).is_some_and(|t| t.kind == TokenKind::Identifier)
                    && self
                        .nth(2)
                        .is_some_and(|t| matches!(&*t.value, "cron" | "interval" | "every")) =>
            {
                let pos = self.cur_pos();
                let s = self.schedule()?;
                self.warning(
                    format!(
                        "Schedule '{}' is declared inside entity '{}' and is not lowered to IR; it has no effect at runtime. Declare schedules at the top level.",
                        s.name, e.name
                    ),
                    pos,
                );
                e.schedules.push(s.name);
            }
            "event" if is_kw => {
                self.warning(
                    "Events cannot be declared inside entity blocks. Declare events at module or root level instead.".into(),
                    t.pos,
                );
                self.advance();
                if self.check_kind(TokenKind::Identifier) {
                    self.advance();
                }
            }
            _ => {
                self.advance();
            }
        }
        Ok(())
    }

    pub(crate) fn property(&mut self) -> PResult<Property> {
        self.expect_kw("property")?;
        let mut modifiers = Vec::new();
        let mut mask = None;
        loop {
            let cur = self.current().clone();
            if PROPERTY_MODIFIERS.contains(&&*cur.value) {
                modifiers.push(self.take_value());
                continue;
            }
            if cur.kind == TokenKind::Identifier && cur.value == "masked" {
                if self
                    .nth(1)
                    .is_some_and(|t| t.kind == TokenKind::Operator && t.value == ":")
                {
                    break;
                }
                self.advance();
                modifiers.push("masked".to_string());
                if self.punct("(") {
                    mask = Some(self.mask_args()?);
                }
                continue;
            }
            break;
        }
        let name = self.identifier()?;
        self.expect_op(":")?;
        let ty = self.type_ref()?;
        let default = if self.op("=") {
            self.advance();
            Some(self.expr()?)
        } else {
            None
        };
        let mut unmask_when = None;
        if self.ident_is("unmask") {
            let pos = self.cur_pos();
            self.advance();
            self.expect_kw("when")?;
            let cond = self.expr()?;
            if modifiers.iter().any(|m| m == "masked") {
                unmask_when = Some(cond);
            } else {
                self.error(
                    format!("'unmask when' requires the 'masked' modifier on property '{name}'"),
                    pos,
                );
            }
        }
        Ok(Property {
            name,
            ty,
            default,
            modifiers,
            mask,
            unmask_when,
        })
    }

    fn mask_args(&mut self) -> PResult<MaskDecl> {
        self.expect_punct("(")?;
        let mut strategy = "redact".to_string();
        let t = self.current().clone();
        if matches!(t.kind, TokenKind::Identifier | TokenKind::Keyword) {
            strategy = self.take_value();
        } else {
            self.error(
                "Expected a masking strategy name after 'masked('".into(),
                t.pos,
            );
        }
        let mut params = Vec::new();
        while self.punct(",") {
            self.advance();
            self.skip_nl();
            let t = self.current().clone();
            if t.kind == TokenKind::Number {
                params.push(js_parse_float(&self.take_value()));
            } else {
                let got = if t.kind == TokenKind::Eof {
                    "EOF".to_string()
                } else {
                    t.value.to_string()
                };
                self.error(
                    format!("Masking strategy parameters must be numeric literals, got '{got}'"),
                    t.pos,
                );
                if t.kind != TokenKind::Punctuation {
                    self.advance();
                }
            }
        }
        self.expect_punct(")")?;
        Ok(MaskDecl { strategy, params })
    }

    fn computed(&mut self) -> PResult<Computed> {
        self.advance();
        let name = self.identifier()?;
        self.expect_op(":")?;
        let ty = self.type_ref()?;
        self.expect_op("=")?;
        let expr = self.expr()?;
        let dependencies = dependencies(&expr);
        let mut cache = None;
        if self.kw("cache") {
            self.advance();
            if self.kw("request") || self.kw("session") {
                cache = Some((self.take_value(), None));
            } else if self.kw("ttl") {
                self.advance();
                let t = self.take();
                if t.kind != TokenKind::Number {
                    return Err(Fail(format!(
                        "Expected TTL value in seconds after 'ttl', got '{}'",
                        t.value
                    )));
                }
                cache = Some(("ttl".to_string(), Some(js_number(&t.value))));
            } else {
                return Err(Fail(format!(
                    "Expected cache strategy: 'request', 'session', or 'ttl', got '{}'",
                    self.current().value
                )));
            }
        }
        Ok(Computed {
            name,
            ty,
            expr,
            dependencies,
            cache,
        })
    }

    pub(crate) fn identifier_array(&mut self) -> PResult<Vec<String>> {
        self.expect_punct("[")?;
        let mut items = Vec::new();
        while !self.punct("]") && !self.is_end() {
            items.push(self.word()?);
            if self.punct(",") {
                self.advance();
            }
        }
        self.expect_punct("]")?;
        Ok(items)
    }

    fn relationship(&mut self) -> PResult<Relationship> {
        let kind = self.take_value();
        let name = self.word()?;
        self.expect_op(":")?;
        let target = self.word()?;
        let mut r = Relationship {
            kind,
            name,
            target,
            fields: None,
            references: None,
            through: None,
            on_delete: None,
            on_update: None,
        };
        if self.kw("through") {
            self.advance();
            r.through = Some(self.identifier()?);
        }
        if self.kw("fields") {
            self.advance();
            r.fields = Some(self.identifier_array()?);
        }
        if self.kw("references") {
            self.advance();
            r.references = Some(self.identifier_array()?);
        }
        if self.kw("with") {
            self.advance();
            r.fields = Some(vec![self.identifier()?]);
        }
        if let (Some(refs), None) = (&r.references, &r.fields) {
            if refs.len() > 1 {
                let pos = self.cur_pos();
                self.error(
                    "Composite references [...] requires explicit fields [...]".into(),
                    pos,
                );
            }
            r.fields = Some(vec![format!("{}Id", r.name)]);
        }
        if self.kw("onDelete") {
            self.advance();
            r.on_delete = Some(self.take_value());
        }
        if self.kw("onUpdate") {
            self.advance();
            r.on_update = Some(self.take_value());
        }
        Ok(r)
    }

    pub(crate) fn constraint(&mut self) -> PResult<Constraint> {
        let pos = self.cur_pos();
        self.expect_kw("constraint")?;
        let mut c = Constraint {
            pos,
            severity: "block".into(),
            ..Constraint::default()
        };
        if self.kw("overrideable") {
            self.advance();
            c.overrideable = true;
        }
        if self.kw("failWhen") {
            self.advance();
            c.fail_when = Some(true);
        }
        c.name = self.identifier()?;
        if self.punct("{") {
            self.constraint_block(&mut c, true)?;
            if c.expr.is_none() {
                return Err(Fail("Constraint block must include an expression".into()));
            }
            return Ok(c);
        }
        self.expect_op(":")?;
        if self.kw("ok") || self.kw("warn") || self.kw("block") {
            c.severity = self.take_value();
        }
        c.expr = Some(self.expr()?);
        if self.check_kind(TokenKind::Str) {
            c.message = Some(self.take_value());
        }
        if self.punct("{") {
            self.constraint_block(&mut c, false)?;
        }
        Ok(c)
    }

    /// The `{ field: value … }` form; `full` allows every field (block syntax).
    fn constraint_block(&mut self, c: &mut Constraint, full: bool) -> PResult<()> {
        self.expect_punct("{")?;
        self.skip_nl();
        while !self.punct("}") && !self.is_end() {
            self.skip_nl();
            if self.punct("}") {
                break;
            }
            let field_pos = self.cur_pos();
            let field = self.word()?;
            self.expect_op(":")?;
            match field.as_str() {
                "code" => c.code = Some(self.identifier()?),
                "message" | "messageTemplate" => {
                    let text = if self.check_kind(TokenKind::Str) {
                        Some(self.take_value())
                    } else {
                        None
                    };
                    if field == "message" {
                        c.message = text;
                    } else {
                        c.message_template = text;
                    }
                }
                "overridePolicy" => c.override_policy = Some(self.identifier()?),
                "details" => {
                    let mut details = Vec::new();
                    if self.punct("{") {
                        self.advance();
                        self.skip_nl();
                        while !self.punct("}") && !self.is_end() {
                            self.skip_nl();
                            if self.punct("}") {
                                break;
                            }
                            let key = self.word()?;
                            self.expect_op(":")?;
                            let value = self.expr()?;
                            details.retain(|(k, _): &(String, Expr)| *k != key);
                            details.push((key, value));
                            self.skip_nl();
                            if self.punct(",") {
                                self.advance();
                            }
                        }
                        self.expect_punct("}")?;
                    }
                    c.details = Some(details);
                }
                "severity" if full => {
                    let sev = self.word()?;
                    if matches!(sev.as_str(), "ok" | "warn" | "block") {
                        c.severity = sev;
                    }
                }
                "expression" if full => c.expr = Some(self.expr()?),
                "failWhen" if full => {
                    let fw = self.word()?;
                    c.fail_when = Some(fw == "true" || fw == "yes");
                }
                _ => {
                    self.warning(
                        format!(
                            "Constraint '{}' has an unknown field '{field}'; the field is ignored.",
                            c.name
                        ),
                        field_pos,
                    );
                    self.expr()?;
                }
            }
            self.skip_nl();
            if self.punct(",") {
                self.advance();
            }
        }
        self.expect_punct("}")?;
        Ok(())
    }

    fn transition(&mut self) -> PResult<Transition> {
        self.expect_kw("transition")?;
        let property = self.identifier()?;
        self.expect_kw("from")?;
        let from = self.take_value();
        self.expect_kw("to")?;
        let mut to = Vec::new();
        if self.punct("[") {
            self.advance();
            while !self.punct("]") && !self.is_end() {
                to.push(self.take_value());
                if self.punct(",") {
                    self.advance();
                }
            }
            self.expect_punct("]")?;
        } else {
            to.push(self.take_value());
        }
        Ok(Transition { property, from, to })
    }
}

/// The names a computed property reads (upstream's dependency rule), in first-seen order.
pub(crate) fn dependencies(expr: &Expr) -> Vec<String> {
    let mut deps: Vec<String> = Vec::new();
    let mut stack = vec![expr];
    // Depth-first, left to right, as upstream's recursive walk.
    while let Some(e) = stack.pop() {
        let found = match &e.kind {
            ExprKind::Identifier(name)
                if !["self", "this", "user", "context"].contains(&name.as_str()) =>
            {
                Some(name)
            }
            ExprKind::Identifier(_)
            | ExprKind::Count { .. }
            | ExprKind::Sum { .. }
            | ExprKind::Literal(_) => None,
            ExprKind::Member { object, property } => {
                if e.self_member().is_some() {
                    Some(property)
                } else {
                    stack.push(object);
                    None
                }
            }
            _ => {
                stack.extend(e.children().into_iter().rev());
                None
            }
        };
        // Few names: a linear search beats hashing.
        if let Some(name) = found
            && !deps.contains(name)
        {
            deps.push(name.clone());
        }
    }
    deps
}
