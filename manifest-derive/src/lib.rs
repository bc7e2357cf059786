//! `#[derive(ManifestEntity)]` for [`manifest-core`](https://docs.rs/manifest-core).
//!
//! Use it through `manifest_core::ManifestEntity`, which re-exports it next to the trait of the
//! same name. This crate holds only the macro; everything it generates refers to
//! `::manifest_core` (or the `crate = "..."` path).

mod ast;
mod attr;
mod check;
mod ctxt;
mod expand;

use proc_macro::TokenStream;

/// Implement `Entity` and `ManifestEntity` for a struct, and generate its patch type.
///
/// ```text
/// #[derive(Debug, Clone, ManifestEntity)]
/// #[manifest(table = "recipes")]
/// pub struct Recipe {
///     pub id: String,            // the id: the field named `id`
///     pub tenant_id: String,     // the tenant: the field named `tenant_id`
///     pub name: String,
///     pub notes: Option<String>, // a nullable column
///     #[manifest(version)]
///     pub version: i64,          // bumped by every update
///     #[manifest(skip)]
///     pub cache: Vec<u8>,        // not stored; `Default::default()` on load
/// }
/// ```
///
/// The derive also defines `RecipePatch`, with the struct's visibility: an `Option<T>` for
/// each data field (`Some` is written, `None` is left as it is) and, for a versioned entity,
/// an `Option<i64>` named like the version field: the version the row must have. Each patch
/// field has the visibility of the field it comes from.
///
/// The input must be a struct with named fields and no generic parameters or lifetimes.
/// Every stored field must have a supported type: `String`, `bool`, `i16`, `i32`, `i64`,
/// `f32`, `f64`, `uuid::Uuid`, `chrono::DateTime<chrono::Utc>`, `serde_json::Value`,
/// `Vec<u8>`, or `Option` of one of them.
///
/// # Struct attributes
///
/// Every option goes in `#[manifest(...)]`; several such attributes may be stacked. Values
/// are string literals.
///
/// - `table = "recipes"`: the SQL table. The default is the struct name in snake_case,
///   never pluralised (`RecipeStep` is stored in `recipe_step`), which only a struct name in
///   PascalCase of ASCII letters and digits, acronyms written as words, has: `HTTPRequest`
///   or `Order_Item` would share `HttpRequest`'s or `OrderItem`'s table, so they name theirs
///   (the rule of `manifest-naming`, which document tables follow too). A table or column
///   name is ASCII letters, digits and underscores, does not start with a digit, is at most
///   63 bytes long (PostgreSQL's limit), and a table name does not start with `sqlite_`.
///
///   ```text
///   #[manifest(table = "recipe_steps")]
///   ```
/// - `entity = "Recipe"`: the entity name the runtime uses. The default is the struct name.
///
///   ```text
///   #[manifest(entity = "Recipe")]
///   ```
/// - `rename_all = "camelCase"`: how field names become column names: `"lowercase"`,
///   `"UPPERCASE"`, `"PascalCase"`, `"camelCase"`, `"snake_case"` or
///   `"SCREAMING_SNAKE_CASE"` (serde's names; the kebab rules are rejected, as such column
///   names would need quoting in SQL). `column` wins over it.
///
///   ```text
///   #[manifest(rename_all = "camelCase")] // `created_at` is stored in `createdAt`
///   ```
/// - `crate = "path"`: where the runtime crate is, when it is not `::manifest_core` (for
///   example when a crate re-exports it).
///
///   ```text
///   #[manifest(crate = "my_app::deps::manifest_core")]
///   ```
///
/// # Field attributes
///
/// - `id`: the primary key within the tenant, a `String` or `uuid::Uuid`. Without it, the
///   field named `id` is the id. An entity has exactly one.
///
///   ```text
///   #[manifest(id)]
///   pub recipe_id: uuid::Uuid,
///   ```
/// - `tenant`: the tenant column, a `String` or `uuid::Uuid`; every statement filters by
///   it. Without it, the field named `tenant_id` is the tenant. An entity has exactly one.
///
///   ```text
///   #[manifest(tenant)]
///   pub org: String,
///   ```
/// - `version`: the optimistic-concurrency counter, an `i16`, `i32` or `i64`. Every update
///   names the version it expects and bumps it. At most one.
///
///   ```text
///   #[manifest(version)]
///   pub revision: i32,
///   ```
/// - `column = "name"`: the column name, instead of the field name under `rename_all`.
///
///   ```text
///   #[manifest(column = "recipe_name")]
///   pub name: String,
///   ```
/// - `skip`: not stored; loaded as `Default::default()`. It cannot be combined with any
///   other key, and the id and tenant cannot be skipped.
///
///   ```text
///   #[manifest(skip)]
///   pub cache: std::collections::HashMap<String, String>,
///   ```
///
/// Raw field names (`r#type`) are stored without the `r#` (column `type`).
///
/// Mistakes are compile errors, all reported together: unknown keys (with the nearest
/// accepted key suggested) or repeated ones, a value that is not a string literal, a flag
/// with a value, an invalid name or a struct name without a default table, two fields in one
/// column (compared without case, as SQLite does), a missing id or tenant, and field types
/// the runtime does not support (reported on the type).
#[proc_macro_derive(ManifestEntity, attributes(manifest))]
pub fn derive_manifest_entity(input: TokenStream) -> TokenStream {
    expand::derive(input.into()).into()
}
