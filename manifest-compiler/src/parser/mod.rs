//! Recursive-descent parser: tokens to a [`Program`], collecting diagnostics.
//!
//! A declaration that fails to parse reports one error at the token where it
//! stopped, and the parser skips to the next declaration keyword (as upstream
//! does). Nesting is capped so that no input can exhaust the stack.

mod approval;
mod command;
mod decls;
mod entity;
mod expr;
mod numbers;
mod unlowered;

use crate::ast::{Decls, Program};
use crate::diagnostic::Diagnostic;
use crate::lexer::{Pos, Token, TokenKind, tokenize};

/// How deep parentheses, blocks and unary chains may nest.
pub const MAX_NESTING: u32 = 64;
/// How deep an expression tree may be (long operator chains grow it without recursion).
pub const MAX_EXPR_DEPTH: u32 = 256;

/// A failed declaration: the message; the position is the current token's.
#[derive(Debug)]
pub(crate) struct Fail(pub String);

pub(crate) type PResult<T> = Result<T, Fail>;

pub(crate) struct Parser<'a> {
    tokens: Vec<Token<'a>>,
    pos: usize,
    depth: u32,
    pub(crate) diagnostics: Vec<Diagnostic>,
}

/// Parses a (newline-normalised) source.
pub fn parse(source: &str) -> (Program, Vec<Diagnostic>) {
    let mut p = Parser {
        tokens: tokenize(source),
        pos: 0,
        depth: 0,
        diagnostics: Vec::new(),
    };
    let program = p.program();
    (program, p.diagnostics)
}

const SYNC_WORDS: &[&str] = &[
    "entity", "enum", "flow", "effect", "expose", "compose", "module", "command", "policy",
    "store", "event", "tenant", "async", "saga", "role", "webhook",
];

impl<'a> Parser<'a> {
    // ----- token helpers -------------------------------------------------

    #[inline]
    pub(crate) fn current(&self) -> &Token<'a> {
        let last = self.tokens.len() - 1;
        &self.tokens[self.pos.min(last)]
    }

    #[inline]
    pub(crate) fn nth(&self, ahead: usize) -> Option<&Token<'a>> {
        self.tokens.get(self.pos + ahead)
    }

    #[inline]
    pub(crate) fn cur_pos(&self) -> Pos {
        self.current().pos
    }

    #[inline]
    pub(crate) fn is_end(&self) -> bool {
        self.current().kind == TokenKind::Eof
    }

    /// Moves on and returns the token passed; at the end, returns the last real token.
    #[inline]
    pub(crate) fn advance(&mut self) -> &Token<'a> {
        if !self.is_end() {
            self.pos += 1;
        }
        &self.tokens[self.pos.saturating_sub(1)]
    }

    /// [`Parser::advance`], keeping the token passed.
    pub(crate) fn take(&mut self) -> Token<'a> {
        self.advance().clone()
    }

    /// [`Parser::advance`], keeping the text of the token passed.
    pub(crate) fn take_value(&mut self) -> String {
        self.advance().value.to_string()
    }

    #[inline]
    pub(crate) fn check(&self, kind: TokenKind, value: &str) -> bool {
        let t = self.current();
        t.kind == kind && t.value == value
    }

    #[inline]
    pub(crate) fn check_kind(&self, kind: TokenKind) -> bool {
        self.current().kind == kind
    }

    #[inline]
    pub(crate) fn kw(&self, value: &str) -> bool {
        self.check(TokenKind::Keyword, value)
    }

    #[inline]
    pub(crate) fn ident_is(&self, value: &str) -> bool {
        self.check(TokenKind::Identifier, value)
    }

    #[inline]
    pub(crate) fn punct(&self, value: &str) -> bool {
        self.check(TokenKind::Punctuation, value)
    }

    #[inline]
    pub(crate) fn op(&self, value: &str) -> bool {
        self.check(TokenKind::Operator, value)
    }

    #[inline]
    pub(crate) fn next_value_is(&self, ahead: usize, value: &str) -> bool {
        self.nth(ahead).is_some_and(|t| t.value == value)
    }

    fn got(&self) -> String {
        let t = self.current();
        if t.kind == TokenKind::Eof {
            "EOF".into()
        } else {
            t.value.to_string()
        }
    }

    /// Moves past the token `value` of `kind`, or fails.
    #[inline]
    pub(crate) fn consume(&mut self, kind: TokenKind, value: &str) -> PResult<()> {
        if self.check(kind, value) {
            self.advance();
            return Ok(());
        }
        Err(self.expected(value))
    }

    #[cold]
    fn expected(&self, value: &str) -> Fail {
        Fail(format!("Expected {value}, got {}", self.got()))
    }

    pub(crate) fn consume_kind(&mut self, kind: TokenKind) -> PResult<Token<'a>> {
        if self.check_kind(kind) {
            return Ok(self.take());
        }
        Err(Fail(format!(
            "Expected {}, got {}",
            kind.name(),
            self.got()
        )))
    }

    #[inline]
    pub(crate) fn expect_punct(&mut self, value: &str) -> PResult<()> {
        self.consume(TokenKind::Punctuation, value)
    }

    #[inline]
    pub(crate) fn expect_op(&mut self, value: &str) -> PResult<()> {
        self.consume(TokenKind::Operator, value)
    }

    #[inline]
    pub(crate) fn expect_kw(&mut self, value: &str) -> PResult<()> {
        self.consume(TokenKind::Keyword, value)
    }

    /// A declaration name: a reserved word is reported but accepted, to keep going.
    pub(crate) fn identifier(&mut self) -> PResult<String> {
        let t = self.current();
        if t.kind == TokenKind::Keyword {
            let (message, pos) = (
                format!(
                    "Reserved word '{}' cannot be used as an identifier",
                    t.value
                ),
                t.pos,
            );
            self.error(message, pos);
            return Ok(self.take_value());
        }
        Ok(self.consume_kind(TokenKind::Identifier)?.value.into_owned())
    }

    /// A member name or object key: any word.
    pub(crate) fn word(&mut self) -> PResult<String> {
        let t = self.current();
        if matches!(t.kind, TokenKind::Identifier | TokenKind::Keyword) {
            return Ok(self.take_value());
        }
        Err(Fail(format!("Expected identifier, got {}", self.got())))
    }

    pub(crate) fn skip_nl(&mut self) {
        while self.check_kind(TokenKind::Newline) {
            self.advance();
        }
    }

    pub(crate) fn error(&mut self, message: String, pos: Pos) {
        let d = Diagnostic::error(message).at(pos);
        self.push_near(d, pos);
    }

    pub(crate) fn warning(&mut self, message: String, pos: Pos) {
        let d = Diagnostic::warning(message).at(pos);
        self.push_near(d, pos);
    }

    /// Adds `d` with the span of the token at `pos` (one of the last few read).
    fn push_near(&mut self, mut d: Diagnostic, pos: Pos) {
        let from = self.pos.saturating_sub(64);
        let to = (self.pos + 2).min(self.tokens.len());
        d.span = self.tokens[from..to]
            .iter()
            .rev()
            .find(|t| t.pos == pos)
            .map(|t| t.span.clone());
        self.diagnostics.push(d);
    }

    /// Enters one level of nesting, failing past [`MAX_NESTING`].
    pub(crate) fn enter(&mut self) -> PResult<()> {
        if self.depth >= MAX_NESTING {
            return Err(Fail(format!(
                "Nesting too deep (more than {MAX_NESTING} levels)"
            )));
        }
        self.depth += 1;
        Ok(())
    }

    pub(crate) fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Runs `body` until the closing `}` (not consumed), skipping newlines.
    pub(crate) fn block_items(
        &mut self,
        mut body: impl FnMut(&mut Parser) -> PResult<()>,
    ) -> PResult<()> {
        while !self.punct("}") && !self.is_end() {
            self.skip_nl();
            if self.punct("}") {
                break;
            }
            let before = self.pos;
            body(self)?;
            if self.pos == before && !self.is_end() && !self.punct("}") {
                // Nothing consumed: never loop forever.
                self.advance();
            }
            self.skip_nl();
        }
        Ok(())
    }

    /// `{ items }`: the opening brace and the newlines after it, the items (as
    /// [`block_items`](Self::block_items)), the closing brace.
    pub(crate) fn braced(&mut self, body: impl FnMut(&mut Parser) -> PResult<()>) -> PResult<()> {
        self.expect_punct("{")?;
        self.skip_nl();
        self.block_items(body)?;
        self.expect_punct("}")
    }

    fn sync(&mut self) {
        self.advance();
        while !self.is_end() && !SYNC_WORDS.contains(&&*self.current().value) {
            self.advance();
        }
    }

    // ----- program --------------------------------------------------------

    fn program(&mut self) -> Program {
        let mut program = Program::default();
        let mut in_uses = true;
        while !self.is_end() {
            self.skip_nl();
            if self.is_end() {
                break;
            }
            let result = if in_uses && self.kw("use") {
                self.use_decl()
            } else {
                in_uses = false;
                self.top_level(&mut program)
            };
            if let Err(Fail(message)) = result {
                let pos = self.cur_pos();
                self.error(message, pos);
                self.sync();
            }
        }
        program
    }

    fn use_decl(&mut self) -> PResult<()> {
        let pos = self.cur_pos();
        self.expect_kw("use")?;
        if !self.check_kind(TokenKind::Str) {
            return Err(Fail("Expected string path after 'use'".into()));
        }
        let path = self.take_value();
        if !path.starts_with("./") && !path.starts_with("../") {
            self.error(
                format!("use path must be relative (start with './' or '../'), got '{path}'"),
                pos,
            );
        }
        if !path.ends_with(".manifest") {
            self.error(
                format!("use path must end with '.manifest', got '{path}'"),
                pos,
            );
        }
        Ok(())
    }

    fn top_level(&mut self, program: &mut Program) -> PResult<()> {
        if self.kw("use") {
            let pos = self.cur_pos();
            self.error(
                "'use' declarations must appear before all other declarations".into(),
                pos,
            );
            self.advance();
            if self.check_kind(TokenKind::Str) {
                self.advance();
            }
            return Ok(());
        }
        if self.kw("module") {
            let module = self.module()?;
            program.modules.push(module);
            return Ok(());
        }
        if self.ident_is("value") {
            let value = self.value_object()?;
            program.values.push(value);
            return Ok(());
        }
        if self.kw("tenant") {
            if program.tenant.is_some() {
                let pos = self.cur_pos();
                self.error(
                    "Duplicate tenant declaration; only one tenant declaration is allowed per program"
                        .into(),
                    pos,
                );
            }
            program.tenant = Some(self.tenant()?);
            return Ok(());
        }
        if self.kw("constraint") {
            let c = self.constraint()?;
            let pos = c.pos;
            self.warning(
                format!(
                    "Constraint '{}' is declared outside any entity and is not lowered to IR; it has no effect at runtime. Move it inside the entity it should guard.",
                    c.name
                ),
                pos,
            );
            program.orphan_constraints.push(c.name);
            return Ok(());
        }
        let unlowered = match &*self.current().value {
            "flow" if self.kw("flow") => Some(0),
            "effect" if self.kw("effect") => Some(1),
            "expose" if self.kw("expose") => Some(2),
            "compose" if self.kw("compose") => Some(3),
            _ => None,
        };
        if let Some(which) = unlowered {
            let item = match which {
                0 => self.flow()?,
                1 => self.effect_decl()?,
                2 => self.expose()?,
                _ => self.composition()?,
            };
            let list = match which {
                0 => &mut program.flows,
                1 => &mut program.effects,
                2 => &mut program.exposures,
                _ => &mut program.compositions,
            };
            list.push(item);
            return Ok(());
        }
        if !self.decl(&mut program.top)? {
            self.advance();
        }
        Ok(())
    }

    /// One declaration allowed both at the top level and in a module; false if none starts here.
    fn decl(&mut self, decls: &mut Decls) -> PResult<bool> {
        let next_is_entity = self
            .nth(1)
            .is_some_and(|t| t.kind == TokenKind::Keyword && t.value == "entity");
        if self.kw("entity") || (self.ident_is("external") && next_is_entity) {
            decls.entities.push(self.entity()?);
        } else if self.kw("enum") {
            decls.enums.push(self.enum_decl()?);
        } else if self.kw("async") {
            self.advance();
            if !self.kw("command") {
                return Err(Fail("Expected 'command' after 'async'".into()));
            }
            let mut cmd = self.command()?;
            cmd.is_async = true;
            decls.commands.push(cmd);
        } else if self.kw("command") {
            decls.commands.push(self.command()?);
        } else if self.kw("policy") {
            decls.policies.push(self.policy(false)?);
        } else if self.kw("store") {
            decls.stores.push(self.store()?);
        } else if self.kw("event") {
            decls.events.push(self.event()?);
        } else if self.kw("on") {
            decls.reactions.push(self.reaction()?);
        } else if self.kw("saga") {
            decls.sagas.push(self.saga()?);
        } else if self.ident_is("role") {
            decls.roles.push(self.role()?);
        } else if self.kw("webhook") {
            decls.webhooks.push(self.webhook()?);
        } else if self.ident_is("schedule") {
            decls.schedules.push(self.schedule()?);
        } else {
            return Ok(false);
        }
        Ok(true)
    }

    fn module(&mut self) -> PResult<crate::ast::Module> {
        self.expect_kw("module")?;
        let name = self.identifier()?;
        let mut decls = Decls::default();
        self.braced(|p| {
            if !p.decl(&mut decls)? {
                p.advance();
            }
            Ok(())
        })?;
        Ok(crate::ast::Module { name, decls })
    }
}
