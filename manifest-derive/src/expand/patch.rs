//! The `<Struct>Patch` type: one `Option` per data field, plus the expected version.

use proc_macro2::TokenStream;
use quote::quote;
use syn::ext::IdentExt;

use super::Model;

pub(crate) fn generate(model: &Model) -> TokenStream {
    let Model {
        ident, vis, patch, ..
    } = model;
    let doc = format!(
        " A partial update of [`{}`]: each `Some` field is written, each `None` field is left \
         as it is.",
        ident.unraw()
    );
    let data = model.data().map(|f| {
        let doc = format!(" Set `{}`.", f.name);
        let (fvis, member, ty) = (f.vis, f.member, f.ty);
        quote! {
            #[doc = #doc]
            #fvis #member: ::core::option::Option<#ty>,
        }
    });
    let version = model.version().map(|f| {
        let (fvis, member) = (f.vis, f.member);
        quote! {
            /// The version the row must have; the update fails with a version conflict otherwise.
            #fvis #member: ::core::option::Option<::core::primitive::i64>,
        }
    });
    quote! {
        #[doc = #doc]
        // A patch may hold floats, so it cannot always be `Eq`; the user cannot act on the
        // nursery lint that says otherwise.
        #[allow(clippy::derive_partial_eq_without_eq)]
        #[derive(
            ::core::fmt::Debug,
            ::core::clone::Clone,
            ::core::default::Default,
            ::core::cmp::PartialEq,
        )]
        #vis struct #patch {
            #(#data)*
            #version
        }
    }
}
