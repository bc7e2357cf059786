//! The remaining declarations: enums, value objects, tenant,
//! sagas, roles, webhooks and schedules.

use super::numbers::{js_number, js_parse_float};
use super::{Fail, PResult, Parser};
use crate::ast::*;
use crate::lexer::TokenKind;

impl<'a> Parser<'a> {
    pub(crate) fn enum_decl(&mut self) -> PResult<Enum> {
        self.expect_kw("enum")?;
        let name = self.identifier()?;
        let mut values = Vec::new();
        self.braced(|p| {
            let mut v = EnumValue {
                name: p.identifier()?,
                label: None,
                ordinal: None,
            };
            if p.op("=") {
                p.advance();
                if p.check_kind(TokenKind::Str) {
                    v.label = Some(p.take_value());
                }
            }
            if p.punct("(") {
                p.advance();
                if p.check_kind(TokenKind::Number) {
                    v.ordinal = Some(js_parse_float(&p.take_value()));
                }
                p.expect_punct(")")?;
            }
            values.push(v);
            if p.punct(",") {
                p.advance();
            }
            Ok(())
        })?;
        Ok(Enum { name, values })
    }

    pub(crate) fn value_object(&mut self) -> PResult<ValueObject> {
        self.advance();
        let name = self.identifier()?;
        let mut properties = Vec::new();
        self.braced(|p| {
            if p.kw("property") {
                properties.push(p.property()?);
            } else {
                let t = p.current().clone();
                p.error(
                    format!("Unexpected token '{}' in value object '{name}'. Value objects may only contain property declarations.", t.value),
                    t.pos,
                );
                p.advance();
            }
            Ok(())
        })?;
        Ok(ValueObject { name, properties })
    }

    pub(crate) fn tenant(&mut self) -> PResult<Tenant> {
        self.expect_kw("tenant")?;
        let property = self.word()?;
        self.expect_op(":")?;
        let ty = self.type_ref()?;
        self.expect_kw("from")?;
        let context_path = self.dotted_path()?;
        Ok(Tenant {
            property,
            ty,
            context_path,
        })
    }

    pub(crate) fn saga(&mut self) -> PResult<Saga> {
        self.expect_kw("saga")?;
        let name = self.identifier()?;
        let mut s = Saga {
            name,
            steps: Vec::new(),
            on_failure: "compensate".into(),
            emits: Vec::new(),
        };
        self.braced(|p| {
            if p.ident_is("step") {
                let step = p.saga_step()?;
                s.steps.push(step);
            } else if p.ident_is("on_failure") {
                p.advance();
                p.expect_op(":")?;
                let v = p.take_value();
                if v == "compensate" || v == "abort" {
                    s.on_failure = v;
                }
            } else if p.kw("emit") {
                p.advance();
                s.emits.push(p.identifier()?);
            } else {
                p.advance();
            }
            Ok(())
        })?;
        if s.steps.is_empty() {
            return Err(Fail(format!(
                "Saga '{}' must declare at least one step",
                s.name
            )));
        }
        Ok(s)
    }

    fn saga_step(&mut self) -> PResult<SagaStep> {
        self.advance();
        let name = self.identifier()?;
        let mut step = SagaStep {
            name,
            command_entity: String::new(),
            command: String::new(),
            compensate: None,
        };
        self.braced(|p| {
            if p.kw("command") || p.ident_is("compensate") {
                let which = p.take_value();
                p.expect_op(":")?;
                let entity = p.identifier()?;
                p.expect_op(".")?;
                let command = p.identifier()?;
                if which == "command" {
                    step.command_entity = entity;
                    step.command = command;
                } else {
                    step.compensate = Some((entity, command));
                }
            } else {
                p.advance();
            }
            Ok(())
        })?;
        if step.command.is_empty() {
            return Err(Fail(format!(
                "Saga step '{}' must specify a command",
                step.name
            )));
        }
        Ok(step)
    }

    pub(crate) fn role(&mut self) -> PResult<Role> {
        self.advance();
        let name = self.identifier()?;
        let mut parent = None;
        if self.kw("extends") {
            self.advance();
            parent = Some(self.identifier()?);
        }
        let mut permissions = Vec::new();
        self.braced(|p| {
            if p.kw("allow") || p.kw("deny") {
                let allow = p.take_value() == "allow";
                let action = p.take_value();
                let target = if p.check_kind(TokenKind::Identifier) {
                    Some(p.take_value())
                } else {
                    None
                };
                permissions.push(Permission {
                    allow,
                    action,
                    target,
                });
            } else {
                p.advance();
            }
            Ok(())
        })?;
        Ok(Role {
            name,
            parent,
            permissions,
        })
    }

    /// `[Entity.]command`.
    fn entity_command(&mut self) -> PResult<(Option<String>, String)> {
        let first = self.identifier()?;
        if self.op(".") {
            self.advance();
            return Ok((Some(first), self.identifier()?));
        }
        Ok((None, first))
    }

    pub(crate) fn webhook(&mut self) -> PResult<Webhook> {
        self.expect_kw("webhook")?;
        let name = self.identifier()?;
        self.skip_nl();
        if !self.check_kind(TokenKind::Str) {
            return Err(Fail(format!("Expected path string after webhook '{name}'")));
        }
        let path = self.take_value();
        self.skip_nl();
        self.expect_kw("run")?;
        let (entity, command) = self.entity_command()?;
        self.skip_nl();
        let mut w = Webhook {
            name,
            path,
            entity,
            command,
            method: None,
            signature: None,
            idempotency_header: None,
            transform: Vec::new(),
        };
        loop {
            if self.ident_is("method") || self.kw("idempotencyHeader") {
                let which = self.take_value();
                self.expect_op(":")?;
                if !self.check_kind(TokenKind::Str) {
                    return Err(Fail(if which == "method" {
                        "Expected string method after 'method:'".into()
                    } else {
                        "Expected string header name after 'idempotencyHeader:'".into()
                    }));
                }
                let v = self.take_value();
                if which == "method" {
                    w.method = Some(v);
                } else {
                    w.idempotency_header = Some(v);
                }
            } else if self.kw("signature") {
                self.advance();
                w.signature = Some(self.webhook_signature()?);
            } else if self.kw("transform") {
                self.advance();
                self.expect_op(":")?;
                let mut transform = Vec::new();
                self.braced(|p| {
                    let n = p.identifier()?;
                    p.expect_op(":")?;
                    transform.push((n, p.expr()?));
                    if p.punct(",") {
                        p.advance();
                    }
                    Ok(())
                })?;
                w.transform = transform;
            } else {
                break;
            }
            self.skip_nl();
        }
        Ok(w)
    }

    fn webhook_signature(&mut self) -> PResult<(String, String, String)> {
        self.expect_punct("{")?;
        self.skip_nl();
        let (mut algorithm, mut header, mut secret) = (None, None, None);
        while !self.punct("}") && !self.is_end() {
            self.skip_nl();
            if self.punct("}") {
                break;
            }
            let field = self.word()?;
            self.expect_op(":")?;
            match field.as_str() {
                "algorithm" | "header" | "secret" => {
                    if !self.check_kind(TokenKind::Str) {
                        return Err(Fail(match field.as_str() {
                            "algorithm" => "Expected string algorithm in signature block".into(),
                            "header" => "Expected string header name in signature block".into(),
                            _ => "Expected string secret path in signature block".into(),
                        }));
                    }
                    let v = self.take_value();
                    match field.as_str() {
                        "algorithm" => {
                            if v != "hmac-sha256" && v != "hmac-sha512" {
                                return Err(Fail(format!(
                                    "Unsupported signature algorithm '{v}'. Supported: hmac-sha256, hmac-sha512"
                                )));
                            }
                            algorithm = Some(v);
                        }
                        "header" => header = Some(v),
                        _ => secret = Some(v),
                    }
                }
                _ => {
                    self.expr()?;
                }
            }
            self.skip_nl();
            if self.punct(",") {
                self.advance();
            }
        }
        self.expect_punct("}")?;
        match (algorithm, header, secret) {
            (Some(a), Some(h), Some(s)) => Ok((a, h, s)),
            _ => Err(Fail(
                "Signature block requires algorithm, header, and secret fields".into(),
            )),
        }
    }

    pub(crate) fn schedule(&mut self) -> PResult<Schedule> {
        self.advance();
        let name = self.identifier()?;
        let kind = if self.ident_is("cron") {
            self.advance();
            ScheduleKind::Cron(self.consume_kind(TokenKind::Str)?.value.into_owned())
        } else if self.ident_is("interval") {
            self.advance();
            if self.check_kind(TokenKind::Str) {
                ScheduleKind::Interval {
                    text: Some(self.take_value()),
                    value: None,
                    unit: None,
                }
            } else {
                let value = js_number(&self.take_value());
                ScheduleKind::Interval {
                    text: None,
                    value: Some(value),
                    unit: Some(self.word()?),
                }
            }
        } else if self.ident_is("every") {
            self.advance();
            let value = js_number(&self.take_value());
            ScheduleKind::Every {
                value: Some(value),
                unit: Some(self.word()?),
            }
        } else {
            return Err(Fail(
                "Expected cron, interval, or every in schedule declaration".into(),
            ));
        };
        self.skip_nl();
        if !(self.kw("run") || self.ident_is("run")) {
            return Err(Fail("Expected 'run' in schedule declaration".into()));
        }
        self.advance();
        self.skip_nl();
        let (target_entity, target_command) = self.entity_command()?;
        let mut params: Vec<(String, Expr)> = Vec::new();
        if self.punct("(") {
            self.advance();
            self.skip_nl();
            while !self.punct(")") && !self.is_end() {
                self.skip_nl();
                if self.punct(")") {
                    break;
                }
                let n = self.identifier()?;
                self.expect_op(":")?;
                let v = self.expr()?;
                params.retain(|(k, _)| *k != n);
                params.push((n, v));
                if self.punct(",") {
                    self.advance();
                }
                self.skip_nl();
            }
            self.expect_punct(")")?;
        }
        Ok(Schedule {
            name,
            kind,
            target_entity,
            target_command,
            params,
        })
    }
}
