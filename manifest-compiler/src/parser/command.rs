//! Commands, their actions, and the declarations that wire them: policies,
//! stores, events, reactions and entity behaviors.

use super::numbers::js_number;
use super::{Fail, PResult, Parser};
use crate::ast::*;
use crate::lexer::TokenKind;

impl<'a> Parser<'a> {
    pub(crate) fn command(&mut self) -> PResult<Command> {
        let pos = self.cur_pos();
        self.expect_kw("command")?;
        let mut c = Command {
            name: self.identifier()?,
            pos,
            ..Command::default()
        };
        self.expect_punct("(")?;
        self.skip_nl();
        while !self.punct(")") && !self.is_end() {
            self.skip_nl();
            let required = !self.kw("optional");
            if !required {
                self.advance();
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
            let mut trusted_source = None;
            if self.kw("from") {
                self.advance();
                let path = self.dotted_path()?;
                if !path.starts_with("context.") {
                    return Err(Fail(format!(
                        "Trusted parameter source must be a context.* path, got '{path}'"
                    )));
                }
                trusted_source = Some(path);
            }
            c.parameters.push(Parameter {
                name,
                ty,
                required,
                default,
                trusted_source,
            });
            self.skip_nl();
            if self.punct(",") {
                self.advance();
                self.skip_nl();
            }
        }
        self.expect_punct(")")?;
        if self.kw("returns") {
            self.advance();
            c.returns = Some(self.type_ref()?);
        }
        if self.punct("{") {
            self.advance();
            self.skip_nl();
            self.block_items(|p| p.command_item(&mut c))?;
            self.expect_punct("}")?;
        } else if self.op("=>") {
            self.advance();
            let action = self.action()?;
            c.actions.push(action);
        }
        Ok(c)
    }

    fn command_item(&mut self, c: &mut Command) -> PResult<()> {
        if self.ident_is("retry") && self.next_value_is(1, "{") {
            c.retry = Some(self.retry()?);
        } else if self.ident_is("rateLimit") && self.next_value_is(1, "{") {
            c.rate_limit = Some(self.rate_limit()?);
        } else if self.kw("guard") || self.kw("when") {
            self.advance();
            c.guards.push(self.expr()?);
        } else if self.kw("constraint") {
            c.constraints.push(self.constraint()?);
        } else if self.kw("emit") {
            self.advance();
            let event = self.identifier()?;
            if self.punct("{") {
                let payload = self.primary()?;
                if let ExprKind::Object(fields) = payload.kind {
                    c.emit_payloads.push((event.clone(), fields));
                }
            }
            // A failed payload fails the whole command: pushing last is the same.
            c.emits.push(event);
        } else {
            let action = self.action()?;
            c.actions.push(action);
        }
        Ok(())
    }

    /// `a.b.c` as written (the first part may be any token, as upstream).
    pub(crate) fn dotted_path(&mut self) -> PResult<String> {
        let mut path = self.take_value();
        while self.op(".") {
            path.push_str(&self.take_value());
            path.push_str(&self.word()?);
        }
        Ok(path)
    }

    pub(crate) fn action(&mut self) -> PResult<Action> {
        let pos = self.cur_pos();
        let mut kind = "compute".to_string();
        let mut target = None;
        let assigns = |p: &Parser| {
            p.check_kind(TokenKind::Identifier)
                && p.nth(1)
                    .is_some_and(|t| t.kind == TokenKind::Operator && t.value == "=")
        };
        if self.kw("mutate") {
            self.advance();
            kind = "mutate".into();
            target = Some(self.identifier()?);
            self.expect_op("=")?;
        } else if self.kw("emit") || self.kw("publish") {
            kind = self.take_value();
            if self.check_kind(TokenKind::Identifier) {
                target = Some(self.identifier()?);
            }
            if self.check_kind(TokenKind::Newline) || self.punct("}") || self.is_end() {
                return Ok(Action {
                    kind,
                    target,
                    expr: Expr::lit(Lit::Null),
                    pos,
                });
            }
        } else if self.kw("effect") {
            self.advance();
            kind = "effect".into();
            if assigns(self) {
                target = Some(self.identifier()?);
                self.expect_op("=")?;
            }
        } else if self.kw("persist") {
            self.advance();
            kind = "persist".into();
        } else if self.kw("compute") {
            self.advance();
            if assigns(self) {
                target = Some(self.identifier()?);
                self.expect_op("=")?;
            }
        }
        let expr = self.expr()?;
        Ok(Action {
            kind,
            target,
            expr,
            pos,
        })
    }

    pub(crate) fn policy(&mut self, is_default: bool) -> PResult<Policy> {
        self.expect_kw("policy")?;
        let name = self.identifier()?;
        let mut action = "all".to_string();
        if ["read", "write", "delete", "execute", "all", "override"]
            .iter()
            .any(|a| self.kw(a))
        {
            action = self.take_value();
        }
        self.expect_op(":")?;
        self.skip_nl();
        let expr = self.expr()?;
        let rate_limit = if self.ident_is("rateLimit") && self.next_value_is(1, "{") {
            Some(self.rate_limit()?)
        } else {
            None
        };
        let message = if self.check_kind(TokenKind::Str) {
            Some(self.take_value())
        } else {
            None
        };
        Ok(Policy {
            name,
            action,
            expr,
            rate_limit,
            message,
            is_default,
        })
    }

    pub(crate) fn store(&mut self) -> PResult<Store> {
        self.expect_kw("store")?;
        let entity = self.identifier()?;
        self.expect_kw("in")?;
        let target = self.take_value();
        let mut config: Vec<(String, Expr)> = Vec::new();
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
                config.retain(|(k, _)| *k != key);
                config.push((key, value));
                self.skip_nl();
            }
            self.expect_punct("}")?;
        }
        Ok(Store {
            entity,
            target,
            config,
        })
    }

    pub(crate) fn event(&mut self) -> PResult<Event> {
        self.expect_kw("event")?;
        let name = self.identifier()?;
        self.expect_op(":")?;
        let channel = if self.check_kind(TokenKind::Str) {
            self.take_value()
        } else {
            name.clone()
        };
        let mut payload = EventPayload::Type(TypeRef {
            name: "unknown".into(),
            ..TypeRef::default()
        });
        if self.punct("{") {
            self.advance();
            self.skip_nl();
            let mut fields = Vec::new();
            while !self.punct("}") && !self.is_end() {
                self.skip_nl();
                if self.punct("}") {
                    break;
                }
                let field = self.identifier()?;
                self.expect_op(":")?;
                fields.push((field, self.type_ref()?));
                self.skip_nl();
            }
            self.expect_punct("}")?;
            payload = EventPayload::Fields(fields);
        } else if self.check_kind(TokenKind::Identifier) || self.check_kind(TokenKind::Keyword) {
            payload = EventPayload::Type(self.type_ref()?);
        }
        Ok(Event {
            name,
            channel,
            payload,
        })
    }

    /// A `behavior`/`on Event { … }` block: parsed, then rejected by the compiler.
    pub(crate) fn behavior(&mut self) -> PResult<String> {
        if self.kw("behavior") {
            self.advance();
        }
        self.expect_kw("on")?;
        let event = self.identifier()?;
        if self.punct("(") {
            self.advance();
            while !self.punct(")") && !self.is_end() {
                self.identifier()?;
                if self.punct(",") {
                    self.advance();
                }
            }
            self.expect_punct(")")?;
        }
        while self.kw("guard") || self.kw("when") {
            self.advance();
            self.expr()?;
        }
        if self.punct("{") {
            self.advance();
            self.skip_nl();
            self.block_items(|p| p.action().map(drop))?;
            self.expect_punct("}")?;
        } else if self.kw("then") || self.op("=>") {
            self.advance();
            self.action()?;
        }
        Ok(event)
    }

    fn reaction_params(&mut self) -> PResult<Option<Vec<(String, Expr)>>> {
        if !self.kw("params") {
            return Ok(None);
        }
        self.advance();
        let mut params = Vec::new();
        self.braced(|p| {
            let name = p.identifier()?;
            p.expect_op(":")?;
            params.push((name, p.expr()?));
            if p.punct(",") {
                p.advance();
            }
            Ok(())
        })?;
        Ok(Some(params))
    }

    pub(crate) fn reaction(&mut self) -> PResult<Reaction> {
        let pos = self.cur_pos();
        self.expect_kw("on")?;
        let event = self.identifier()?;
        let mut r = Reaction {
            event,
            target_entity: String::new(),
            target_command: String::new(),
            resolve: None,
            matches: None,
            else_create: false,
            fan_out: None,
            params: None,
        };
        if self.kw("fanOut") {
            self.advance();
            let match_entity = self.identifier()?;
            self.expect_kw("where")?;
            let match_field = self.identifier()?;
            self.expect_op("=")?;
            let match_source = self.expr()?;
            self.skip_nl();
            self.expect_kw("run")?;
            let head = self.identifier()?;
            r.target_entity = match_entity.clone();
            r.target_command = head.clone();
            let mut other = None;
            if self.op(".") {
                self.advance();
                r.target_entity = head;
                r.target_command = self.identifier()?;
                if r.target_entity != match_entity {
                    other = Some(match_entity);
                }
            }
            self.skip_nl();
            r.fan_out = Some(FanOut {
                match_field,
                match_source,
                match_entity: other,
            });
            r.params = self.reaction_params()?;
            return Ok(r);
        }
        self.expect_kw("run")?;
        r.target_entity = self.identifier()?;
        self.expect_op(".")?;
        r.target_command = self.identifier()?;
        self.skip_nl();
        if self.kw("match") {
            self.advance();
            let mut matches = Vec::new();
            self.skip_nl();
            const STOP: &[&str] = &[
                "else", "params", "on", "entity", "event", "enum", "module", "use", "webhook",
                "saga", "policy", "store",
            ];
            while !self.is_end() {
                self.skip_nl();
                if STOP.iter().any(|w| self.kw(w)) || !self.check_kind(TokenKind::Identifier) {
                    break;
                }
                let field = self.identifier()?;
                self.expect_op("=")?;
                matches.push((field, self.expr()?));
                if self.punct(",") {
                    self.advance();
                    self.skip_nl();
                    continue;
                }
                self.skip_nl();
                break;
            }
            if matches.is_empty() {
                self.error(
                    "reaction match requires at least one field = expression predicate".into(),
                    pos,
                );
            }
            self.skip_nl();
            if self.kw("else") {
                self.advance();
                self.skip_nl();
                let word = self.identifier()?;
                if word != "create" {
                    return Err(Fail(format!(
                        "Expected 'create' after reaction 'else', got '{word}'"
                    )));
                }
                r.else_create = true;
                self.skip_nl();
            }
            r.matches = Some(matches);
            r.params = self.reaction_params()?;
            return Ok(r);
        }
        self.expect_kw("resolve")?;
        r.resolve = Some(self.expr()?);
        self.skip_nl();
        r.params = self.reaction_params()?;
        Ok(r)
    }

    pub(crate) fn retry(&mut self) -> PResult<Retry> {
        self.advance();
        let mut r = Retry::default();
        self.braced(|p| {
            let field = p.identifier()?;
            p.expect_op(":")?;
            match field.as_str() {
                "maxAttempts" => r.max_attempts = Some(js_number(&p.take_value())),
                "backoff" => r.backoff = Some(p.word()?),
                "delay" => r.delay = Some(js_number(&p.take_value())),
                "delayMs" => r.delay_ms = Some(js_number(&p.take_value())),
                "jitter" => {
                    r.jitter = Some(if p.kw("true") || p.kw("false") {
                        Jitter::Flag(p.take_value() == "true")
                    } else {
                        Jitter::Amount(js_number(&p.take_value()))
                    })
                }
                "retryOn" => {
                    let code = if p.check_kind(TokenKind::Str) {
                        p.take_value()
                    } else {
                        p.word()?
                    };
                    r.retry_on.push(code);
                }
                _ => {}
            }
            if p.punct(",") {
                p.advance();
            }
            Ok(())
        })?;
        self.skip_nl();
        Ok(r)
    }

    pub(crate) fn rate_limit(&mut self) -> PResult<RateLimit> {
        self.advance();
        let mut r = RateLimit::default();
        self.braced(|p| {
            let field = p.identifier()?;
            p.expect_op(":")?;
            match field.as_str() {
                "maxRequests" => r.max_requests = Some(js_number(&p.take_value())),
                "windowMs" => r.window_ms = Some(js_number(&p.take_value())),
                "scope" => r.scope = Some(p.word()?),
                "burstAllowance" => r.burst = Some(js_number(&p.take_value())),
                _ => {}
            }
            if p.punct(",") {
                p.advance();
            }
            Ok(())
        })?;
        self.skip_nl();
        Ok(r)
    }
}
