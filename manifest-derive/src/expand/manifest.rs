//! `impl ManifestEntity`: names, columns and statements as constants, plus the row
//! functions of `row.rs`.

use proc_macro2::TokenStream;
use quote::quote;

use super::sql::{self, Dialect};
use super::{Model, row};
use crate::check::Kind;

pub(crate) fn generate(model: &Model) -> TokenStream {
    let ident = model.ident;
    let where_clause = model.where_clause();
    let entity = &model.entity;
    let table = &model.table;
    let columns = model.stored().map(|(f, kind)| {
        let ty = f.ty;
        let (column, field) = (&f.column, &f.name);
        let role = match kind {
            Kind::Id => quote!(Id),
            Kind::Tenant => quote!(Tenant),
            Kind::Version => quote!(Version),
            Kind::Data | Kind::Skip => quote!(Data),
        };
        quote! {
            _manifest::__private::Column::of::<#ty>(
                #column,
                #field,
                _manifest::__private::ColumnRole::#role,
            ),
        }
    });
    let sqlite = sql::generate(model, Dialect::Sqlite);
    let postgres = sql::generate(model, Dialect::Postgres);
    let bind_row = row::bind_row(model);
    let bind_patch = row::bind_patch(model);
    let decode = row::decode(model);
    let into_patch = row::into_patch(model);
    quote! {
        #[automatically_derived]
        impl _manifest::ManifestEntity for #ident #where_clause {
            const ENTITY: &'static str = #entity;
            const TABLE: &'static str = #table;
            const COLUMNS: &'static [_manifest::__private::Column] = &[
                #(#columns)*
            ];
            const SQLITE: _manifest::__private::Statements = #sqlite;
            const POSTGRES: _manifest::__private::Statements = #postgres;

            #bind_row
            #bind_patch
            #decode
            #into_patch
        }
    }
}
