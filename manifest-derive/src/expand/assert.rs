//! Trait assertions on the field types, spanned on each type so that an unsupported type is
//! reported there (Toasty's `compat_check`), with the runtime's `on_unimplemented` message.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::Model;
use crate::check::Kind;

pub(crate) fn generate(model: &Model) -> TokenStream {
    let checks = model.stored().map(|(f, kind)| {
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
