//! Declarations upstream parses but does not lower (the compiler warns about
//! them): `flow`, `effect`, `expose` and `compose`. Parsed in full, so that
//! their syntax errors are reported as upstream reports them.

use super::{PResult, Parser};
use crate::ast::Unlowered;

impl<'a> Parser<'a> {
    /// `flow Name(Input) -> Output { step [when cond]: expr … }`
    pub(crate) fn flow(&mut self) -> PResult<Unlowered> {
        self.expect_kw("flow")?;
        let name = self.identifier()?;
        self.expect_punct("(")?;
        self.type_ref()?;
        self.expect_punct(")")?;
        self.expect_op("->")?;
        self.type_ref()?;
        self.braced(|p| {
            p.advance();
            if p.kw("when") {
                p.advance();
                p.expr()?;
            }
            p.expect_op(":")?;
            p.expr().map(drop)
        })?;
        Ok(Unlowered { name })
    }

    /// `effect Name: kind { key: expr … }`
    pub(crate) fn effect_decl(&mut self) -> PResult<Unlowered> {
        self.expect_kw("effect")?;
        let name = self.identifier()?;
        self.expect_op(":")?;
        self.advance();
        self.config_block()?;
        Ok(Unlowered { name })
    }

    fn config_block(&mut self) -> PResult<()> {
        if !self.punct("{") {
            return Ok(());
        }
        self.advance();
        self.skip_nl();
        self.block_items(|p| {
            p.word()?;
            p.expect_op(":")?;
            p.expr().map(drop)
        })?;
        self.expect_punct("}").map(drop)
    }

    /// `expose Entity as protocol [server] ["name"] { op, middleware: m … }`
    pub(crate) fn expose(&mut self) -> PResult<Unlowered> {
        self.expect_kw("expose")?;
        let entity = self.identifier()?;
        self.expect_kw("as")?;
        self.advance();
        if self.kw("server") {
            self.advance();
        }
        if self.check_kind(crate::lexer::TokenKind::Str) {
            self.advance();
        }
        if self.punct("{") {
            self.advance();
            self.skip_nl();
            self.block_items(|p| {
                if p.take_value() == "middleware" {
                    p.expect_op(":")?;
                    p.identifier()?;
                }
                if p.punct(",") {
                    p.advance();
                }
                Ok(())
            })?;
            self.expect_punct("}")?;
        }
        Ok(Unlowered { name: entity })
    }

    /// `compose Name { Entity [as alias] … connect a.out -> b.in [with expr] … }`
    pub(crate) fn composition(&mut self) -> PResult<Unlowered> {
        self.expect_kw("compose")?;
        let name = self.identifier()?;
        self.braced(|p| {
            if p.kw("connect") {
                p.advance();
                p.identifier()?;
                p.expect_op(".")?;
                p.word()?;
                p.expect_op("->")?;
                p.identifier()?;
                p.expect_op(".")?;
                p.word()?;
                if p.kw("with") {
                    p.advance();
                    p.expr()?;
                }
            } else {
                p.identifier()?;
                if p.kw("as") {
                    p.advance();
                    p.identifier()?;
                }
            }
            Ok(())
        })?;
        Ok(Unlowered { name })
    }
}
