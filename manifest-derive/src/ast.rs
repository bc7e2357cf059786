//! The derive input as this crate sees it: a struct with named fields, each with its parsed
//! `#[manifest(...)]` keys and its column name.

use syn::ext::IdentExt;
use syn::{Data, DeriveInput, Fields, Ident, Type, Visibility};

use crate::attr;
use crate::ctxt::Ctxt;

/// A struct that may derive `ManifestEntity`.
pub(crate) struct Container<'a> {
    pub ident: &'a Ident,
    pub vis: &'a Visibility,
    pub attrs: attr::Container,
    pub fields: Vec<Field<'a>>,
}

/// One named field.
pub(crate) struct Field<'a> {
    /// The field as written (maybe `r#type`).
    pub member: &'a Ident,
    /// Its name without `r#`.
    pub name: String,
    pub vis: &'a Visibility,
    pub ty: &'a Type,
    pub attrs: attr::Field,
    /// Whether its `#[manifest(...)]` keys had an error (then its type is not checked either:
    /// the intended keys are not known).
    pub attr_errors: bool,
    /// The column name: `column = "..."`, or the name under `rename_all`.
    pub column: String,
}

impl<'a> Container<'a> {
    /// `None` (with the errors in `cx`) when the input is not a plain struct with named fields.
    pub(crate) fn from_ast(cx: &Ctxt, input: &'a DeriveInput) -> Option<Self> {
        let cont_attrs = attr::Container::from_ast(cx, &input.attrs);
        let what = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(_) => None,
                Fields::Unnamed(_) => Some("a tuple struct"),
                Fields::Unit => Some("a unit struct"),
            },
            Data::Enum(_) => Some("an enum"),
            Data::Union(_) => Some("a union"),
        };
        if let Some(what) = what {
            cx.error_spanned_by(
                &input.ident,
                format!(
                    "`ManifestEntity` cannot be derived for {what}\nhelp: derive it on a struct \
                     with named fields, one per column"
                ),
            );
            return None;
        }
        let generic = !input.generics.params.is_empty() || input.generics.where_clause.is_some();
        if generic {
            cx.error_spanned_by(
                &input.ident,
                "`ManifestEntity` cannot be derived for a generic struct: generic parameters and \
                 lifetimes are not supported",
            );
        }
        let Data::Struct(data) = &input.data else {
            return None;
        };
        let fields = data
            .fields
            .iter()
            .filter_map(|field| {
                let member = field.ident.as_ref()?;
                let name = member.unraw().to_string();
                let errors_before = cx.error_count();
                let attrs = attr::Field::from_ast(cx, &field.attrs);
                let attr_errors = cx.error_count() > errors_before;
                let column = match &attrs.column {
                    Some(lit) => lit.value(),
                    None => cont_attrs.rename_all.apply_to_field(&name),
                };
                Some(Field {
                    member,
                    name,
                    vis: &field.vis,
                    ty: &field.ty,
                    attrs,
                    attr_errors,
                    column,
                })
            })
            .collect();
        if generic {
            return None;
        }
        Some(Container {
            ident: &input.ident,
            vis: &input.vis,
            attrs: cont_attrs,
            fields,
        })
    }
}
