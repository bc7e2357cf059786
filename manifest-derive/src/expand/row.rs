//! The per-row functions of `impl ManifestEntity`: bind a row or a patch, decode a row, and
//! turn a row into a patch. Each only forwards to the `Binder` / `RowDecoder` the store passes.
//!
//! Code that names a local or `self` keeps the call-site span: a field type's span may carry
//! the hygiene of a `macro_rules!` caller, under which `self` and `__binder` do not resolve.
//! The impl's `where` clause (see `Model::where_clause`) keeps type errors out of these bodies.

use proc_macro2::{Literal, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::Model;
use crate::check::Kind;

/// `fn bind_row`: every column, in `COLUMNS` order.
pub(crate) fn bind_row(model: &Model) -> TokenStream {
    let binds = model.stored().map(|(f, _)| {
        let member = f.member;
        quote! {
            _manifest::__private::Binder::bind(__binder, &self.#member);
        }
    });
    quote! {
        fn bind_row<'__q, __B: _manifest::__private::Binder<'__q>>(
            &'__q self,
            __binder: &mut __B,
        ) {
            #(#binds)*
        }
    }
}

/// `fn bind_patch`: a (flag, value) pair per data column, in `COLUMNS` order.
pub(crate) fn bind_patch(model: &Model) -> TokenStream {
    let patch = &model.patch;
    let binds = model.data().map(|f| {
        let member = f.member;
        quote! {
            _manifest::__private::Binder::bind_patch(
                __binder,
                ::core::option::Option::as_ref(&__patch.#member),
            );
        }
    });
    quote! {
        fn bind_patch<'__q, __B: _manifest::__private::Binder<'__q>>(
            __patch: &'__q #patch,
            __binder: &mut __B,
        ) {
            #(#binds)*
        }
    }
}

/// `fn decode`: each column by position; skipped fields get `Default::default()`.
pub(crate) fn decode(model: &Model) -> TokenStream {
    let stored = model.stored().enumerate().map(|(i, (f, _))| {
        let member = f.member;
        let index = Literal::usize_suffixed(i);
        let column = &f.column;
        quote! {
            #member: _manifest::__private::RowDecoder::get(__row, #index, #column)?,
        }
    });
    // Spanned on the type, so a type without `Default` is reported there (no locals here).
    let skipped = model.skipped().map(|f| {
        let member = f.member;
        quote_spanned! {f.ty.span()=>
            #member: ::core::default::Default::default(),
        }
    });
    quote! {
        fn decode<__R: _manifest::__private::RowDecoder>(
            __row: &__R,
        ) -> _manifest::__private::Result<Self> {
            ::core::result::Result::Ok(Self {
                #(#stored)*
                #(#skipped)*
            })
        }
    }
}

/// `fn into_patch`: every data field set, and the row's version expected.
pub(crate) fn into_patch(model: &Model) -> TokenStream {
    let patch = &model.patch;
    let fields = model.fields.iter().filter_map(|(f, kind)| {
        let member = f.member;
        match kind {
            Kind::Data => Some(quote! {
                #member: ::core::option::Option::Some(self.#member),
            }),
            Kind::Version => {
                let ty = f.ty;
                Some(quote! {
                    #member: ::core::option::Option::Some(
                        <#ty as _manifest::__private::VersionType>::to_i64(self.#member),
                    ),
                })
            }
            Kind::Id | Kind::Tenant | Kind::Skip => None,
        }
    });
    quote! {
        fn into_patch(self) -> #patch {
            #patch {
                #(#fields)*
            }
        }
    }
}
