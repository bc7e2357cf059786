//! Code generation: parse, check, then emit one item per module below.
//!
//! [`expand`] takes and returns `proc_macro2` tokens so unit tests can call it.

mod assert;
mod entity;
mod manifest;
mod patch;
mod row;
pub(crate) mod sql;

use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident, quote};
use syn::ext::IdentExt;
use syn::{DeriveInput, Ident, Visibility};

use crate::ast::{Container, Field};
use crate::check::{self, Kind};
use crate::ctxt::Ctxt;

/// `#[derive(ManifestEntity)]` on `input`: the patch struct and the impls, or every error found
/// followed by the field-type assertions (so that an unsupported field type is reported in the
/// same build as an attribute error, as thiserror's `fallback.rs` does).
pub(crate) fn derive(input: TokenStream) -> TokenStream {
    match expand(input) {
        Ok(tokens) => tokens,
        Err(Failure { errors, fallback }) => {
            let mut tokens = errors.into_compile_error();
            tokens.extend(fallback);
            tokens
        }
    }
}

/// An input that did not check: every error, and what to emit next to them.
pub(crate) struct Failure {
    pub errors: syn::Error,
    /// The field-type assertions, when the input is a struct whose fields are known.
    pub fallback: TokenStream,
}

impl From<syn::Error> for Failure {
    fn from(errors: syn::Error) -> Self {
        Failure {
            errors,
            fallback: TokenStream::new(),
        }
    }
}

/// The patch struct and the impls, or every error found.
pub(crate) fn expand(input: TokenStream) -> Result<TokenStream, Failure> {
    let input: DeriveInput = syn::parse2(input)?;
    let cx = Ctxt::new();
    let model = Container::from_ast(&cx, &input).map(|cont| {
        let kinds = check::check(&cx, &cont);
        (cont, kinds)
    });
    if let Err(errors) = cx.check() {
        let fallback = match &model {
            Some((cont, kinds)) => assert::fallback(cont, kinds),
            None => TokenStream::new(),
        };
        return Err(Failure { errors, fallback });
    }
    let Some((cont, kinds)) = model else {
        // `from_ast` only gives `None` after recording an error, so this is not reached.
        return Ok(TokenStream::new());
    };
    Ok(generate(&Model::new(&cont, kinds)))
}

/// The runtime crate's path: `::manifest_core` unless `crate = "..."` says otherwise.
fn krate(cont: &Container) -> TokenStream {
    match &cont.attrs.krate {
        Some(path) => quote!(#path),
        None => quote!(::manifest_core),
    }
}

/// A checked struct, ready for code generation.
pub(crate) struct Model<'a> {
    pub ident: &'a Ident,
    pub vis: &'a Visibility,
    /// `<Struct>Patch`.
    pub patch: Ident,
    /// The runtime crate's path, `::manifest_core` unless `crate = "..."` says otherwise.
    pub krate: TokenStream,
    /// `ManifestEntity::ENTITY`.
    pub entity: String,
    /// `ManifestEntity::TABLE`.
    pub table: String,
    /// Every field with what it is, in field order.
    pub fields: Vec<(&'a Field<'a>, Kind)>,
}

impl<'a> Model<'a> {
    pub(crate) fn new(cont: &'a Container<'a>, kinds: Vec<Kind>) -> Self {
        let name = cont.ident.unraw();
        Model {
            ident: cont.ident,
            vis: cont.vis,
            patch: format_ident!("{}Patch", name, span = cont.ident.span()),
            krate: krate(cont),
            entity: match &cont.attrs.entity {
                Some(lit) => lit.value(),
                None => name.to_string(),
            },
            table: check::default_table(cont),
            fields: cont.fields.iter().zip(kinds).collect(),
        }
    }

    /// The stored fields (every one but the skipped), in field order: the columns.
    pub(crate) fn stored(&self) -> impl Iterator<Item = (&'a Field<'a>, Kind)> + '_ {
        self.fields
            .iter()
            .copied()
            .filter(|(_, k)| *k != Kind::Skip)
    }

    /// The data fields: stored, and not the id, tenant or version.
    pub(crate) fn data(&self) -> impl Iterator<Item = &'a Field<'a>> + '_ {
        self.fields
            .iter()
            .filter(|(_, k)| *k == Kind::Data)
            .map(|(f, _)| *f)
    }

    /// The skipped fields.
    pub(crate) fn skipped(&self) -> impl Iterator<Item = &'a Field<'a>> + '_ {
        self.fields
            .iter()
            .filter(|(_, k)| *k == Kind::Skip)
            .map(|(f, _)| *f)
    }

    /// The field of a key role (`Id`, `Tenant`, `Version`), if there is one.
    pub(crate) fn key(&self, kind: Kind) -> Option<&'a Field<'a>> {
        self.fields
            .iter()
            .find(|(_, k)| *k == kind)
            .map(|(f, _)| *f)
    }

    /// The id field (checked to exist).
    pub(crate) fn id(&self) -> Option<&'a Field<'a>> {
        self.key(Kind::Id)
    }

    /// The tenant field (checked to exist).
    pub(crate) fn tenant(&self) -> Option<&'a Field<'a>> {
        self.key(Kind::Tenant)
    }

    /// The version field, for a versioned entity.
    pub(crate) fn version(&self) -> Option<&'a Field<'a>> {
        self.key(Kind::Version)
    }

    /// The `where` clause of both impls: each field type's trait, which `assert.rs` checks.
    ///
    /// The impls hold only when the assertions do, so a field of an unsupported type is
    /// reported once, by its assertion, and not again by every generated body that binds or
    /// decodes it. The bounds are higher-ranked over an unused lifetime on purpose: rustc
    /// checks a trivially false bound on a non-generic impl eagerly (the `trivial_bounds`
    /// error) unless it has bound variables, and a bound it checked would repeat the error.
    pub(crate) fn where_clause(&self) -> TokenStream {
        // One bound per distinct type, naming the strongest trait each use needs (`Key` and
        // `VersionType` imply `FieldType`), so the docs show a short list.
        let mut types: Vec<(String, &syn::Type, Vec<&str>)> = Vec::new();
        for (f, kind) in self.stored() {
            let tr = match kind {
                Kind::Id | Kind::Tenant => "Key",
                Kind::Version => "VersionType",
                Kind::Data | Kind::Skip => "FieldType",
            };
            let text = f.ty.to_token_stream().to_string();
            match types.iter_mut().find(|(t, _, _)| *t == text) {
                Some((_, _, traits)) if !traits.contains(&tr) => traits.push(tr),
                Some(_) => {}
                None => types.push((text, f.ty, vec![tr])),
            }
        }
        let bounds = types.into_iter().map(|(_, ty, mut traits)| {
            if traits.len() > 1 {
                traits.retain(|t| *t != "FieldType");
            }
            let traits = traits
                .into_iter()
                .map(|t| Ident::new(t, proc_macro2::Span::call_site()));
            quote!(for<'__a> #ty: #(_manifest::__private::#traits)+*)
        });
        quote!(where #(#bounds,)*)
    }
}

fn generate(model: &Model) -> TokenStream {
    let krate = &model.krate;
    let patch = patch::generate(model);
    let asserts = assert::generate(model);
    let entity = entity::generate(model);
    let manifest = manifest::generate(model);
    quote! {
        #patch
        const _: () = {
            use #krate as _manifest;
            #asserts
            #entity
            #manifest
        };
    }
}

#[cfg(test)]
mod tests {
    use super::expand;
    use quote::quote;

    /// The message of every error `expand` reports for `input`.
    fn errors(input: proc_macro2::TokenStream) -> Vec<String> {
        match expand(input) {
            Ok(_) => Vec::new(),
            Err(failure) => failure.errors.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn expands_a_valid_struct() {
        let out = expand(quote! {
            #[manifest(table = "recipes")]
            pub struct Recipe {
                pub id: String,
                pub tenant_id: String,
                pub name: String,
                #[manifest(version)]
                pub version: i64,
            }
        });
        let out = out
            .map(|t| t.to_string())
            .unwrap_or_else(|f| f.errors.to_string());
        assert!(out.contains("pub struct RecipePatch"), "{out}");
        assert!(out.contains("impl _manifest :: Entity for Recipe"), "{out}");
        assert!(
            out.contains("impl _manifest :: ManifestEntity for Recipe"),
            "{out}"
        );
    }

    #[test]
    fn reports_every_error() {
        let errs = errors(quote! {
            #[manifest(table = "bad name", tabel = "x")]
            struct Recipe {
                #[manifest(id = "x")]
                id: String,
            }
        });
        assert_eq!(errs.len(), 4, "{errs:#?}");
        assert!(errs[0].starts_with("invalid table name `bad name`"));
        assert!(errs[1].starts_with("unknown manifest struct attribute `tabel`"));
        assert!(errs[2].starts_with("`id` is a flag and takes no value"));
        assert!(errs[3].starts_with("no tenant field"));
    }

    #[test]
    fn default_table_names_are_canonical() {
        let errs = errors(quote! {
            struct HTTPRequest {
                id: String,
                tenant_id: String,
            }
        });
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert!(
            errs[0].starts_with(
                "the default table name `http_request` belongs to the struct name \
                 `HttpRequest`, not `HTTPRequest`"
            ),
            "{errs:#?}"
        );
        let errs = errors(quote! {
            #[manifest(table = "http_request")]
            struct HTTPRequest {
                id: String,
                tenant_id: String,
            }
        });
        assert_eq!(errs, Vec::<String>::new());
    }

    #[test]
    fn failures_keep_the_type_assertions() {
        let Err(failure) = expand(quote! {
            struct Recipe {
                id: String,
                tenant_id: String,
                #[manifest(colum = "x")]
                name: String,
                scores: BTreeMap<String, f64>,
            }
        }) else {
            panic!("expected errors");
        };
        assert_eq!(failure.errors.into_iter().count(), 1);
        let fallback = failure.fallback.to_string();
        assert!(
            fallback.contains("use :: manifest_core as _manifest"),
            "{fallback}"
        );
        assert!(
            fallback.contains("assert_field :: < BTreeMap < String , f64 > >"),
            "{fallback}"
        );
        assert!(fallback.contains("assert_key :: < String >"), "{fallback}");
        // The field whose keys were wrong is not asserted.
        assert_eq!(fallback.matches("assert_field").count(), 3, "{fallback}");
        // Nor is anything when the crate's path is not known.
        let Err(failure) = expand(quote! {
            #[manifest(crate = "not a path")]
            struct Recipe {
                id: String,
                tenant_id: String,
            }
        }) else {
            panic!("expected errors");
        };
        assert!(failure.fallback.is_empty());
    }

    #[test]
    fn rejects_non_structs() {
        let errs = errors(quote!(
            enum E {
                A,
            }
        ));
        assert_eq!(
            errs,
            [
                "`ManifestEntity` cannot be derived for an enum\nhelp: derive it on a struct with \
              named fields, one per column"
            ]
        );
    }

    #[test]
    fn default_keys() {
        let errs = errors(quote! {
            struct Row {
                #[manifest(skip)]
                id: String,
                #[manifest(tenant)]
                id2: String,
            }
        });
        assert_eq!(errs, ["the id field cannot be skipped"]);
        let errs = errors(quote! {
            struct Row {
                #[manifest(tenant)]
                id: String,
            }
        });
        assert_eq!(
            errs,
            ["no id field: name a field `id` or mark one with `#[manifest(id)]`"]
        );
    }
}
