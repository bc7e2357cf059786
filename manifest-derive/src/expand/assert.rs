//! Trait assertions on the field types, spanned on each type so that an unsupported type is
//! reported there (Toasty's `compat_check`), with the runtime's `on_unimplemented` message.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::Model;
use crate::ast::{Container, Field};
use crate::check::Kind;

pub(crate) fn generate(model: &Model) -> TokenStream {
    assertions(model.stored())
}

/// The assertions of an input that did not check, emitted next to its errors so that a field
/// of an unsupported type is reported in the same build (thiserror's `fallback.rs`). A field
/// whose own `#[manifest(...)]` keys had an error is left out (it may have been meant to be
/// skipped), and so is everything when the runtime crate's path is not known.
pub(crate) fn fallback(cont: &Container, kinds: &[Kind]) -> TokenStream {
    if cont.attrs.krate_invalid {
        return TokenStream::new();
    }
    let krate = super::krate(cont);
    let fields = cont
        .fields
        .iter()
        .zip(kinds.iter().copied())
        .filter(|(f, k)| *k != Kind::Skip && !f.attr_errors);
    let checks = assertions(fields);
    quote! {
        const _: () = {
            use #krate as _manifest;
            #checks
        };
    }
}

fn assertions<'b, 'a: 'b>(fields: impl Iterator<Item = (&'b Field<'a>, Kind)>) -> TokenStream {
    let checks = fields.map(|(f, kind)| {
        let ty = f.ty;
        let span = ty.span();
        let extra = match kind {
            Kind::Id | Kind::Tenant => {
                quote_spanned!(span=> _manifest::__private::assert_key::<#ty>();)
            }
            Kind::Version => {
                quote_spanned!(span=> _manifest::__private::assert_version::<#ty>();)
            }
            Kind::Data | Kind::Skip => quote!(),
        };
        quote_spanned! {span=>
            _manifest::__private::assert_field::<#ty>();
            #extra
        }
    });
    quote! {
        const _: () = {
            #(#checks)*
        };
    }
}
