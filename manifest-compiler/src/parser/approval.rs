//! Entity approvals: `approval Name { command: …, stages { … }, timeout: …, on_timeout: … }`.

use super::numbers::js_parse_float;
use super::{Fail, PResult, Parser};
use crate::ast::*;
use crate::lexer::TokenKind;

impl<'a> Parser<'a> {
    pub(crate) fn approval(&mut self) -> PResult<Approval> {
        let pos = self.cur_pos();
        self.expect_kw("approval")?;
        let name = self.identifier()?;
        let mut a = Approval {
            name,
            command: String::new(),
            stages: Vec::new(),
            timeout: None,
            on_timeout: None,
            emits: Vec::new(),
            pos,
        };
        self.braced(|p| {
            if p.kw("command") {
                p.advance();
                p.expect_op(":")?;
                a.command = p.identifier()?;
            } else if p.kw("stages") {
                p.advance();
                p.expect_punct("{")?;
                p.skip_nl();
                p.block_items(|p| {
                    if p.check_kind(TokenKind::Identifier) || p.kw("stage") {
                        if p.current().value == "stage" {
                            p.advance();
                        }
                        let stage = p.approval_stage()?;
                        a.stages.push(stage);
                    } else {
                        p.advance();
                    }
                    Ok(())
                })?;
                p.expect_punct("}")?;
            } else if p.kw("timeout") {
                p.advance();
                p.expect_op(":")?;
                let t = p.take();
                a.timeout = (t.kind == TokenKind::Number).then(|| js_parse_float(&t.value));
            } else if p.ident_is("on_timeout") {
                p.advance();
                p.expect_op(":")?;
                a.on_timeout = Some(p.on_timeout()?);
            } else if p.kw("emit") {
                p.advance();
                a.emits.push(p.identifier()?);
            } else {
                p.advance();
            }
            Ok(())
        })?;
        if a.command.is_empty() {
            return Err(Fail(format!(
                "Approval '{}' must specify a command",
                a.name
            )));
        }
        Ok(a)
    }

    fn on_timeout(&mut self) -> PResult<OnTimeout> {
        let pos = self.cur_pos();
        let raw = self.take_value();
        if raw == "cancel" {
            return Ok(OnTimeout::Cancel);
        }
        if raw != "escalate" {
            return Err(Fail(format!(
                "Unknown on_timeout action '{raw}' (expected cancel or escalate)"
            )));
        }
        if !self.punct("{") {
            return Ok(OnTimeout::Escalate {
                bare: true,
                to: None,
                status: None,
                timeout: None,
                pos,
            });
        }
        self.advance();
        self.skip_nl();
        let (mut to, mut status, mut timeout) = (None, None, None);
        self.block_items(|p| {
            let field = if p.check_kind(TokenKind::Str) { p.take_value() } else { p.word()? };
            p.expect_op(":")?;
            let text = |p: &mut Parser| -> PResult<String> {
                if p.check_kind(TokenKind::Str) { Ok(p.take_value()) } else { p.word() }
            };
            match field.as_str() {
                "to" => to = Some(p.expr()?),
                "status" => {
                    let s = text(p)?;
                    if !matches!(s.as_str(), "pending" | "granted" | "denied" | "expired") {
                        return Err(Fail(format!("Invalid escalate status '{s}' (expected pending, granted, denied, or expired)")));
                    }
                    status = Some(s);
                }
                "timeout" => {
                    if p.check_kind(TokenKind::Number) {
                        timeout = Some(EscalateTimeout::Hours(js_parse_float(&p.take_value())));
                    } else {
                        let w = text(p)?;
                        if w != "none" && w != "reset" {
                            return Err(Fail(format!("Invalid escalate timeout '{w}' (expected a number of hours, none, or reset)")));
                        }
                        timeout = Some(EscalateTimeout::Word(w));
                    }
                }
                "reset_timeout" => {
                    if p.take_value() == "true" {
                        timeout = Some(EscalateTimeout::Word("reset".into()));
                    }
                }
                _ => {
                    return Err(Fail(format!(
                        "Unknown escalate field '{field}' (expected to, status, timeout)"
                    )));
                }
            }
            if p.punct(",") {
                p.advance();
            }
            Ok(())
        })?;
        self.expect_punct("}")?;
        Ok(OnTimeout::Escalate {
            bare: false,
            to,
            status,
            timeout,
            pos,
        })
    }

    fn approval_stage(&mut self) -> PResult<ApprovalStage> {
        let name = self.identifier()?;
        let (mut policy, mut when, mut required) = (None, None, 1.0);
        self.braced(|p| {
            if p.kw("policy") || p.kw("when") {
                let which = p.take_value();
                p.expect_op(":")?;
                let e = p.expr()?;
                if which == "policy" {
                    policy = Some(e);
                } else {
                    when = Some(e);
                }
            } else if p.kw("required") {
                p.advance();
                p.expect_op(":")?;
                let r = p.take();
                required = if r.kind == TokenKind::Number {
                    js_parse_float(&r.value)
                } else {
                    1.0
                };
            } else {
                p.advance();
            }
            Ok(())
        })?;
        let Some(policy) = policy else {
            return Err(Fail(format!(
                "Approval stage '{name}' requires a policy expression"
            )));
        };
        Ok(ApprovalStage {
            name,
            policy,
            when,
            required,
        })
    }
}
