//! `impl Entity`: the key accessors, the version hooks and the in-memory `apply`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::Model;

pub(crate) fn generate(model: &Model) -> TokenStream {
    let Model { ident, patch, .. } = model;
    let where_clause = model.where_clause();
    let (Some(id), Some(tenant)) = (model.id(), model.tenant()) else {
        // `check` reports a missing id or tenant, so this is not reached.
        return TokenStream::new();
    };
    let (id_ty, id) = (id.ty, id.member);
    let (tenant_ty, tenant) = (tenant.ty, tenant.member);

    let versioned = model.version().is_some();
    let (version, set_version, expected_version) = match model.version() {
        Some(f) => {
            let (ty, member) = (f.ty, f.member);
            // Call-site spans: see `row.rs` on hygiene.
            (
                quote! {
                    ::core::option::Option::Some(
                        <#ty as _manifest::__private::VersionType>::to_i64(self.#member),
                    )
                },
                quote! {
                    self.#member = <#ty as _manifest::__private::VersionType>::from_i64(__version)?;
                    ::core::result::Result::Ok(())
                },
                quote!(__patch.#member),
            )
        }
        None => (
            quote!(::core::option::Option::None),
            quote!(::core::result::Result::Ok(())),
            quote!(::core::option::Option::None),
        ),
    };

    let apply = model.data().map(|f| {
        let member = f.member;
        quote! {
            if let ::core::option::Option::Some(__value) = __patch.#member {
                self.#member = __value;
            }
        }
    });

    // Spanned on the type, as in `decode`: a type without `Default` is reported there.
    let clear_skipped = model.skipped().map(|f| {
        let member = f.member;
        quote_spanned! {f.ty.span()=>
            self.#member = ::core::default::Default::default();
        }
    });

    quote! {
        #[automatically_derived]
        impl _manifest::Entity for #ident #where_clause {
            type Id = #id_ty;
            type Tenant = #tenant_ty;
            type Patch = #patch;

            const VERSIONED: ::core::primitive::bool = #versioned;

            #[inline]
            fn id(&self) -> &<Self as _manifest::Entity>::Id {
                &self.#id
            }

            #[inline]
            fn id_mut(&mut self) -> &mut <Self as _manifest::Entity>::Id {
                &mut self.#id
            }

            #[inline]
            fn tenant_mut(
                &mut self,
            ) -> ::core::option::Option<&mut <Self as _manifest::Entity>::Tenant> {
                ::core::option::Option::Some(&mut self.#tenant)
            }

            #[inline]
            fn version(&self) -> ::core::option::Option<::core::primitive::i64> {
                #version
            }

            fn set_version(
                &mut self,
                __version: ::core::primitive::i64,
            ) -> ::core::result::Result<(), _manifest::__private::BoxDynError> {
                #set_version
            }

            #[inline]
            fn expected_version(
                __patch: &#patch,
            ) -> ::core::option::Option<::core::primitive::i64> {
                #expected_version
            }

            fn apply(&mut self, __patch: #patch) -> _manifest::__private::Result<()> {
                #(#apply)*
                ::core::result::Result::Ok(())
            }

            fn clear_skipped(&mut self) {
                #(#clear_skipped)*
            }
        }
    }
}
