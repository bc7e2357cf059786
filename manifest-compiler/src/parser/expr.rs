//! Expressions (upstream's precedence: ternary, or, and, equality, comparison,
//! additive, multiplicative, unary, postfix, primary) and type annotations.

use super::numbers::js_parse_float;
use super::{Fail, MAX_EXPR_DEPTH, PResult, Parser};
use crate::ast::*;
use crate::lexer::{Token, TokenKind};

/// The binary level of the operator `t`, loosest first: or, and, equality,
/// comparison, additive, multiplicative. Upstream takes the last four by
/// text alone, whatever the token's kind.
fn binary_level(t: &Token<'_>) -> Option<usize> {
    match (t.kind, &*t.value) {
        (TokenKind::Operator, "||") | (TokenKind::Keyword, "or") => Some(0),
        (TokenKind::Operator, "&&") | (TokenKind::Keyword, "and") => Some(1),
        (_, "==" | "!=" | "is" | "in" | "contains") => Some(2),
        (_, "<" | ">" | "<=" | ">=") => Some(3),
        (_, "+" | "-") => Some(4),
        (_, "*" | "/" | "%") => Some(5),
        _ => None,
    }
}

impl<'a> Parser<'a> {
    pub(crate) fn expr(&mut self) -> PResult<Expr> {
        self.enter()?;
        let result = self.ternary();
        self.leave();
        result
    }

    fn checked(&self, e: Expr) -> PResult<Expr> {
        if e.depth > MAX_EXPR_DEPTH {
            return Err(Fail(format!(
                "Expression nested too deeply (more than {MAX_EXPR_DEPTH} levels)"
            )));
        }
        Ok(e)
    }

    fn ternary(&mut self) -> PResult<Expr> {
        let condition = self.binary(0)?;
        if self.op("?") {
            self.advance();
            let consequent = self.expr()?;
            self.expect_op(":")?;
            let alternate = self.expr()?;
            return self.checked(Expr::new(ExprKind::Conditional {
                condition: Box::new(condition),
                consequent: Box::new(consequent),
                alternate: Box::new(alternate),
            }));
        }
        Ok(condition)
    }

    /// Binary operators by precedence climbing: an operand, then every
    /// operator of level `min` or tighter, each with its right operand
    /// (operators of the same level associate to the left).
    fn binary(&mut self, min: usize) -> PResult<Expr> {
        let mut left = self.unary()?;
        while let Some(level) = binary_level(self.current()).filter(|&level| level >= min) {
            let op = self.take_value();
            let right = self.binary(level + 1)?;
            left = self.checked(Expr::new(ExprKind::Binary {
                op,
                left: Box::new(left),
                right: Box::new(right),
            }))?;
        }
        Ok(left)
    }

    fn unary(&mut self) -> PResult<Expr> {
        let v = &*self.current().value;
        if v == "!" || v == "-" || self.kw("not") {
            let op = self.take_value();
            self.enter()?;
            let operand = self.unary();
            self.leave();
            return self.checked(Expr::new(ExprKind::Unary {
                op,
                operand: Box::new(operand?),
            }));
        }
        self.postfix()
    }

    fn postfix(&mut self) -> PResult<Expr> {
        let mut e = self.primary()?;
        loop {
            if self.op(".") || self.op("?.") {
                self.advance();
                let property = self.word()?;
                e = Expr::new(ExprKind::Member {
                    object: Box::new(e),
                    property,
                });
            } else if self.punct("(") {
                self.advance();
                let mut args = Vec::new();
                while !self.punct(")") && !self.is_end() {
                    args.push(self.expr()?);
                    if self.punct(",") {
                        self.advance();
                    }
                }
                self.expect_punct(")")?;
                e = Expr::new(ExprKind::Call {
                    callee: Box::new(e),
                    args,
                });
            } else if self.punct("[") {
                self.advance();
                let index = self.expr()?;
                self.expect_punct("]")?;
                let shown = match &index.kind {
                    ExprKind::Literal(Lit::Str(s)) => s.clone(),
                    ExprKind::Literal(Lit::Num(n)) => manifest_ir::js::number_to_string(*n),
                    ExprKind::Literal(Lit::Bool(b)) => b.to_string(),
                    ExprKind::Literal(Lit::Null) => "null".into(),
                    _ => String::new(),
                };
                e = Expr::new(ExprKind::Member {
                    object: Box::new(e),
                    property: format!("[{shown}]"),
                });
            } else {
                break;
            }
            e = self.checked(e)?;
        }
        Ok(e)
    }

    fn aggregate_ahead(&self, word: &str) -> bool {
        self.ident_is(word)
            && self
                .nth(1)
                .is_some_and(|t| t.kind == TokenKind::Punctuation && t.value == "(")
            && self.nth(2).is_some_and(|t| t.kind == TokenKind::Identifier)
            && self
                .nth(3)
                .is_some_and(|t| t.kind == TokenKind::Keyword && t.value == "where")
    }

    pub(crate) fn primary(&mut self) -> PResult<Expr> {
        let t = self.current();
        let literal = match t.kind {
            TokenKind::Number => Some(Lit::Num(js_parse_float(&t.value))),
            TokenKind::Str => Some(Lit::Str(t.value.to_string())),
            TokenKind::Keyword if t.value == "true" || t.value == "false" => {
                Some(Lit::Bool(t.value == "true"))
            }
            TokenKind::Keyword if t.value == "null" => Some(Lit::Null),
            _ => None,
        };
        if let Some(lit) = literal {
            self.advance();
            return Ok(Expr::lit(lit));
        }
        if self.aggregate_ahead("count") || self.aggregate_ahead("sum") {
            return self.aggregate();
        }
        if self.punct("[") {
            self.advance();
            let mut items = Vec::new();
            let result = (|| {
                while !self.punct("]") && !self.is_end() {
                    items.push(self.expr()?);
                    if self.punct(",") {
                        self.advance();
                    }
                }
                self.expect_punct("]").map(drop)
            })();
            result?;
            return self.checked(Expr::new(ExprKind::Array(items)));
        }
        if self.punct("{") {
            self.advance();
            self.skip_nl();
            let mut props: Vec<(String, Expr)> = Vec::new();
            let result = (|| {
                while !self.punct("}") && !self.is_end() {
                    self.skip_nl();
                    if self.punct("}") {
                        break;
                    }
                    let key = if self.check_kind(TokenKind::Str) {
                        self.take_value()
                    } else {
                        self.word()?
                    };
                    self.expect_op(":")?;
                    props.push((key, self.expr()?));
                    if self.punct(",") {
                        self.advance();
                    }
                    self.skip_nl();
                }
                self.expect_punct("}").map(drop)
            })();
            result?;
            return self.checked(Expr::new(ExprKind::Object(props)));
        }
        if self.punct("(") {
            self.advance();
            let start = self.pos;
            let mut params = Vec::new();
            while self.check_kind(TokenKind::Identifier) {
                params.push(self.take_value());
                if self.punct(",") {
                    self.advance();
                } else {
                    break;
                }
            }
            if self.punct(")") {
                self.advance();
                if self.op("=>") {
                    self.advance();
                    let body = self.expr()?;
                    return self.checked(Expr::new(ExprKind::Lambda {
                        params,
                        body: Box::new(body),
                    }));
                }
            }
            self.pos = start;
            let inner = self.expr()?;
            self.expect_punct(")")?;
            return Ok(inner);
        }
        // Every branch above returns: the current token is still `t`.
        let t = self.current();
        if t.kind == TokenKind::Identifier
            || (t.kind == TokenKind::Keyword && matches!(&*t.value, "user" | "self" | "context"))
        {
            let e = Expr::ident(&t.value);
            self.advance();
            return Ok(e);
        }
        let got = if t.kind == TokenKind::Eof {
            "EOF".to_string()
        } else {
            t.value.to_string()
        };
        Err(Fail(format!("Unexpected: {got}")))
    }

    fn aggregate(&mut self) -> PResult<Expr> {
        let pos = self.cur_pos();
        let op = self.take_value();
        self.expect_punct("(")?;
        let entity = self.identifier()?;
        self.expect_kw("where")?;
        let mut predicates = Vec::new();
        self.skip_nl();
        let is_sum = op == "sum";
        while !self.is_end() {
            self.skip_nl();
            if self.punct(")") || (is_sum && self.ident_is("of")) {
                break;
            }
            let field = self.identifier()?;
            self.expect_op("==")?;
            let value = self.expr()?;
            predicates.push(Predicate { field, value });
            if self.punct(",") {
                self.advance();
            }
            self.skip_nl();
        }
        let mut of = String::new();
        if is_sum {
            if !self.ident_is("of") {
                self.error(
                    format!("sum({entity} where ...) requires 'of <field>' naming the numeric property to sum"),
                    pos,
                );
                self.expect_punct(")")?;
                return self.checked(Expr::new(ExprKind::Sum {
                    entity,
                    predicates,
                    of,
                }));
            }
            self.advance();
            of = self.identifier()?;
        }
        self.expect_punct(")")?;
        if predicates.is_empty() {
            self.error(
                format!("{op}({entity} where ...) requires at least one equality predicate (the foreign-key match)"),
                pos,
            );
        }
        let kind = if is_sum {
            ExprKind::Sum {
                entity,
                predicates,
                of,
            }
        } else {
            ExprKind::Count { entity, predicates }
        };
        self.checked(Expr::new(kind))
    }

    pub(crate) fn type_ref(&mut self) -> PResult<TypeRef> {
        self.enter()?;
        let result = self.type_inner();
        self.leave();
        result
    }

    fn type_inner(&mut self) -> PResult<TypeRef> {
        let mut ty = TypeRef {
            name: self.take_value(),
            ..TypeRef::default()
        };
        if self.punct("(") && (ty.name == "decimal" || ty.name == "money") {
            self.advance();
            let precision = parse_int(&self.take_value());
            self.expect_punct(",")?;
            self.skip_nl();
            let scale = parse_int(&self.take_value());
            self.expect_punct(")")?;
            ty.params = Some((precision, scale));
        }
        if self.op("<") {
            self.advance();
            let first = self.type_ref()?;
            if ty.name == "map" && self.punct(",") {
                self.advance();
                self.skip_nl();
                let value = self.type_ref()?;
                let key_ok = first.name == "string"
                    && first.generic.is_none()
                    && !first.nullable
                    && first.params.is_none();
                if !key_ok {
                    let pos = self.cur_pos();
                    self.error(
                        format!(
                            "map key type must be string (got {}); use map<V> or map<string, V>",
                            first.name
                        ),
                        pos,
                    );
                }
                ty.generic = Some(Box::new(value));
            } else {
                ty.generic = Some(Box::new(first));
            }
            self.expect_op(">")?;
        }
        if self.op("?") {
            self.advance();
            ty.nullable = true;
        }
        let is_array = self.punct("[")
            && self
                .nth(1)
                .is_some_and(|t| t.kind == TokenKind::Punctuation && t.value == "]");
        if is_array {
            self.advance();
            self.advance();
            let element = TypeRef {
                name: ty.name,
                generic: None,
                nullable: false,
                params: ty.params,
            };
            return Ok(TypeRef {
                name: "array".into(),
                generic: Some(Box::new(element)),
                nullable: ty.nullable,
                params: None,
            });
        }
        Ok(ty)
    }
}

/// `parseInt(text, 10)`: leading digits, or NaN (kept as `None`).
fn parse_int(text: &str) -> Option<f64> {
    let digits: String = text.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse::<f64>().ok()
}
