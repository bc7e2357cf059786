//! The expression tree of the IR ([`Expr`]) and its literal values ([`IrValue`]), from
//! [`manifest_ir`]; `Expr`'s `Display` is the reference runtime's `formatExpression` text.

pub use manifest_ir::{
    AggregateOp, AggregatePredicate, BinaryOp, Expr, IrValue, ObjectProperty, UnaryOp,
};
