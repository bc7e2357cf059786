//! Parsing of `#[manifest(...)]` attributes, one key at a time.
//!
//! Checks that need only one key (a value's form, a name's syntax, duplicates, unknown keys)
//! run here; checks across keys or fields are in `check.rs`. Every problem goes to the
//! [`Ctxt`] and parsing goes on, so one build reports them all.

use manifest_naming::RenameRule;
use proc_macro2::{Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::meta::ParseNestedMeta;
use syn::parse::ParseStream;
use syn::spanned::Spanned;
use syn::{Attribute, LitStr, Token};

use crate::check;
use crate::ctxt::Ctxt;

const STRUCT_KEYS: &[&str] = &["table", "entity", "rename_all", "crate"];
const FIELD_KEYS: &[&str] = &["id", "tenant", "version", "skip", "column"];

/// The struct-level keys.
pub(crate) struct Container {
    /// `table = "..."`, already checked to be a valid name.
    pub table: Option<LitStr>,
    /// `entity = "..."`, already checked to be non-empty.
    pub entity: Option<LitStr>,
    /// `rename_all = "..."`, or [`RenameRule::None`].
    pub rename_all: RenameRule,
    /// `crate = "..."`.
    pub krate: Option<syn::Path>,
    /// `crate = "..."` was given but is not a path: the runtime crate's path is not known.
    pub krate_invalid: bool,
}

/// The key-related role a field flag gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Id,
    Tenant,
    Version,
}

impl Role {
    pub(crate) fn key(self) -> &'static str {
        match self {
            Role::Id => "id",
            Role::Tenant => "tenant",
            Role::Version => "version",
        }
    }
}

/// The field-level keys.
pub(crate) struct Field {
    /// `id`, `tenant` and `version` flags, in the order written, each with its key's span.
    pub roles: Vec<(Role, Span)>,
    /// The `skip` flag's span.
    pub skip: Option<Span>,
    /// `column = "..."`, already checked to be a valid name.
    pub column: Option<LitStr>,
}

impl Container {
    pub(crate) fn from_ast(cx: &Ctxt, attrs: &[Attribute]) -> Self {
        let mut out = Container {
            table: None,
            entity: None,
            rename_all: RenameRule::None,
            krate: None,
            krate_invalid: false,
        };
        for_each_key(cx, attrs, STRUCT_KEYS, "struct", |key, meta| {
            match key {
                "table" => {
                    if let Some(lit) = lit_str(cx, key, meta)? {
                        match check::sql_name("table", &lit.value()) {
                            Ok(()) => out.table = Some(lit),
                            Err(msg) => cx.error_spanned_by(&lit, msg),
                        }
                    }
                }
                "entity" => {
                    if let Some(lit) = lit_str(cx, key, meta)? {
                        if lit.value().trim().is_empty() {
                            cx.error_spanned_by(
                                &lit,
                                "`entity` cannot be empty\nhelp: name the entity, \
                                 e.g. `entity = \"Recipe\"`, or remove the key to use the struct name",
                            );
                        } else {
                            out.entity = Some(lit);
                        }
                    }
                }
                "rename_all" => {
                    if let Some(lit) = lit_str(cx, key, meta)? {
                        match RenameRule::parse(&lit.value()) {
                            Ok(rule) => out.rename_all = rule,
                            Err(err) => cx.error_spanned_by(&lit, err),
                        }
                    }
                }
                "crate" => {
                    if let Some(lit) = lit_str(cx, key, meta)? {
                        match lit.parse::<syn::Path>() {
                            Ok(path) => out.krate = Some(path),
                            Err(_) => {
                                out.krate_invalid = true;
                                cx.error_spanned_by(
                                    &lit,
                                    format!(
                                        "`crate = {:?}` is not a path\nhelp: name the crate's \
                                         path, e.g. `crate = \"::manifest_core\"`",
                                        lit.value()
                                    ),
                                );
                            }
                        }
                    }
                }
                _ => unreachable_key(cx, meta)?,
            }
            Ok(())
        });
        out
    }
}

impl Field {
    pub(crate) fn from_ast(cx: &Ctxt, attrs: &[Attribute]) -> Self {
        let mut out = Field {
            roles: Vec::new(),
            skip: None,
            column: None,
        };
        for_each_key(cx, attrs, FIELD_KEYS, "field", |key, meta| {
            match key {
                "id" => out.roles.push((Role::Id, flag(cx, key, meta)?)),
                "tenant" => out.roles.push((Role::Tenant, flag(cx, key, meta)?)),
                "version" => out.roles.push((Role::Version, flag(cx, key, meta)?)),
                "skip" => out.skip = Some(flag(cx, key, meta)?),
                "column" => {
                    if let Some(lit) = lit_str(cx, key, meta)? {
                        match check::sql_name("column", &lit.value()) {
                            Ok(()) => out.column = Some(lit),
                            Err(msg) => cx.error_spanned_by(&lit, msg),
                        }
                    }
                }
                _ => unreachable_key(cx, meta)?,
            }
            Ok(())
        });
        out
    }
}

/// Run `f` on each known key of every `#[manifest(...)]` attribute; report unknown and
/// repeated keys (`level` is "struct" or "field", for the message).
fn for_each_key(
    cx: &Ctxt,
    attrs: &[Attribute],
    known: &'static [&'static str],
    level: &str,
    mut f: impl FnMut(&'static str, &ParseNestedMeta) -> syn::Result<()>,
) {
    let mut seen: Vec<&'static str> = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("manifest")) {
        let result = attr.parse_nested_meta(|meta| {
            let name = key_name(&meta.path);
            let Some(key) = known.iter().copied().find(|k| *k == name) else {
                let help = match nearest(&name, known) {
                    Some(key) => format!("\nhelp: did you mean `{key}`?"),
                    None => String::new(),
                };
                cx.error_spanned_by(
                    &meta.path,
                    format!(
                        "unknown manifest {level} attribute `{name}`, expected one of {}{help}",
                        list(known)
                    ),
                );
                return skip_value(meta.input);
            };
            if seen.contains(&key) {
                cx.error_spanned_by(&meta.path, format!("duplicate manifest attribute `{key}`"));
                return skip_value(meta.input);
            }
            seen.push(key);
            f(key, &meta)
        });
        if let Err(err) = result {
            cx.syn_error(err);
        }
    }
}

/// A key's name as written (`r#id` reads as `id`; a path such as `a::b` is kept whole).
fn key_name(path: &syn::Path) -> String {
    match path.get_ident() {
        Some(ident) => ident.unraw().to_string(),
        None => path.to_token_stream().to_string().replace(' ', ""),
    }
}

/// The known key nearest to `name`, if one is near enough to be a typo of it: the same but for
/// case, or at most one edit per three characters of `name` away (rustc's rule for its own
/// suggestions), counting a swap of two neighbours as one edit.
fn nearest(name: &str, known: &[&'static str]) -> Option<&'static str> {
    if let Some(key) = known.iter().find(|k| k.eq_ignore_ascii_case(name)) {
        return Some(key);
    }
    let max = name.chars().count().max(3) / 3;
    known
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        .filter(|(d, _)| *d <= max)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// The optimal string alignment distance: insertions, deletions, substitutions and swaps of
/// two neighbouring characters, each one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // `rows[i][j]`: the distance between `a[..i]` and `b[..j]`.
    let mut rows = vec![vec![0; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = d;
        }
    }
    rows[a.len()][b.len()]
}

/// `` `a`, `b`, `c` ``
fn list(keys: &[&str]) -> String {
    let quoted: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
    quoted.join(", ")
}

/// A key `for_each_key` knows but its caller does not handle: cannot happen, but is reported
/// rather than panicking.
fn unreachable_key(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<()> {
    cx.error_spanned_by(&meta.path, "unsupported manifest attribute");
    skip_value(meta.input)
}

/// The value of a `key = "..."` entry. Anything but a string literal is reported (with the
/// right form shown) and skipped, and gives `None`.
fn lit_str(cx: &Ctxt, key: &str, meta: &ParseNestedMeta) -> syn::Result<Option<LitStr>> {
    let help = format!("help: write it as `{key} = \"...\"`");
    if !meta.input.peek(Token![=]) {
        cx.error_spanned_by(&meta.path, format!("`{key}` needs a string value\n{help}"));
        skip_value(meta.input)?;
        return Ok(None);
    }
    let eq: Token![=] = meta.input.parse()?;
    let value = take_value(meta.input)?;
    if value.is_empty() {
        cx.error_at(eq.span, format!("`{key}` needs a string value\n{help}"));
        return Ok(None);
    }
    // `parse2` also sees through the invisible groups a `macro_rules!` `$lit` leaves.
    match syn::parse2::<LitStr>(value.clone()) {
        Ok(lit) if lit.suffix().is_empty() => Ok(Some(lit)),
        Ok(lit) => {
            cx.error_spanned_by(
                &lit,
                format!("unexpected suffix `{}` on a string literal", lit.suffix()),
            );
            Ok(None)
        }
        Err(_) => {
            cx.error_spanned_by(
                value,
                format!("expected a string literal for `{key}`\n{help}"),
            );
            Ok(None)
        }
    }
}

/// A flag: a bare word. A value after it is reported and skipped. Returns the key's span.
fn flag(cx: &Ctxt, key: &str, meta: &ParseNestedMeta) -> syn::Result<Span> {
    let span = meta.path.span();
    if !(meta.input.is_empty() || meta.input.peek(Token![,])) {
        let value = take_value(meta.input)?;
        cx.error_spanned_by(
            value,
            format!("`{key}` is a flag and takes no value\nhelp: write it as `#[manifest({key})]`"),
        );
    }
    Ok(span)
}

/// Skip whatever follows a key up to the next `,`.
fn skip_value(input: ParseStream) -> syn::Result<()> {
    take_value(input).map(drop)
}

/// The tokens after a key up to the next top-level `,`.
fn take_value(input: ParseStream) -> syn::Result<TokenStream> {
    let mut tokens = TokenStream::new();
    while !input.is_empty() && !input.peek(Token![,]) {
        let tt: TokenTree = input.parse()?;
        tokens.extend([tt]);
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::{Container, Field, Role};
    use crate::ctxt::Ctxt;
    use manifest_naming::RenameRule;
    use syn::Attribute;

    /// Parse `attrs` with `parse`, returning the result and every error message.
    fn parse<T>(attrs: &[Attribute], parse: impl Fn(&Ctxt, &[Attribute]) -> T) -> (T, Vec<String>) {
        let cx = Ctxt::new();
        let out = parse(&cx, attrs);
        let errors = match cx.check() {
            Ok(()) => Vec::new(),
            Err(err) => err.into_iter().map(|e| e.to_string()).collect(),
        };
        (out, errors)
    }

    #[test]
    fn stacked_struct_attributes() {
        let attrs: Vec<Attribute> = vec![
            syn::parse_quote!(#[manifest(table = "recipes")]),
            syn::parse_quote!(#[doc = "not ours"]),
            syn::parse_quote!(#[manifest(entity = "Recipe", rename_all = "camelCase",)]),
            syn::parse_quote!(#[manifest(crate = "crate::deps::manifest")]),
        ];
        let (cont, errors) = parse(&attrs, Container::from_ast);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(cont.table.map(|l| l.value()).as_deref(), Some("recipes"));
        assert_eq!(cont.entity.map(|l| l.value()).as_deref(), Some("Recipe"));
        assert_eq!(cont.rename_all, RenameRule::CamelCase);
        let krate = cont.krate.map(|p| quote::quote!(#p).to_string());
        assert_eq!(krate.as_deref(), Some("crate :: deps :: manifest"));
    }

    #[test]
    fn field_flags_and_column() {
        let attrs: Vec<Attribute> = vec![
            syn::parse_quote!(#[manifest(version)]),
            syn::parse_quote!(#[manifest(column = "rev")]),
        ];
        let (field, errors) = parse(&attrs, Field::from_ast);
        assert!(errors.is_empty(), "{errors:?}");
        let roles: Vec<Role> = field.roles.iter().map(|(r, _)| *r).collect();
        assert_eq!(roles, [Role::Version]);
        assert!(field.skip.is_none());
        assert_eq!(field.column.map(|l| l.value()).as_deref(), Some("rev"));
    }

    #[test]
    fn bad_keys_and_values() {
        let attrs: Vec<Attribute> = vec![
            syn::parse_quote!(#[manifest(id = "x", skip(1), colum = "a", column = a::b)]),
            syn::parse_quote!(#[manifest(id, column = "again")]),
            syn::parse_quote!(#[manifest(r#tenant)]),
        ];
        let (field, errors) = parse(&attrs, Field::from_ast);
        assert_eq!(
            errors,
            [
                "`id` is a flag and takes no value\nhelp: write it as `#[manifest(id)]`",
                "`skip` is a flag and takes no value\nhelp: write it as `#[manifest(skip)]`",
                "unknown manifest field attribute `colum`, expected one of `id`, `tenant`, \
                 `version`, `skip`, `column`\nhelp: did you mean `column`?",
                "expected a string literal for `column`\nhelp: write it as `column = \"...\"`",
                "duplicate manifest attribute `id`",
                "duplicate manifest attribute `column`",
            ]
        );
        // Parsing went on past every error; a key given a bad value still counts as given.
        let roles: Vec<Role> = field.roles.iter().map(|(r, _)| *r).collect();
        assert_eq!(roles, [Role::Id, Role::Tenant]);
        assert!(field.skip.is_some());
        assert!(field.column.is_none());
    }

    #[test]
    fn suggestions() {
        use super::{FIELD_KEYS, STRUCT_KEYS, edit_distance, nearest};
        assert_eq!(edit_distance("", "id"), 2);
        assert_eq!(edit_distance("colum", "column"), 1);
        assert_eq!(edit_distance("tabel", "table"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        let cases = [
            ("colum", FIELD_KEYS, Some("column")),
            ("columns", FIELD_KEYS, Some("column")),
            ("Column", FIELD_KEYS, Some("column")),
            ("ID", FIELD_KEYS, Some("id")),
            ("tenat", FIELD_KEYS, Some("tenant")),
            ("skp", FIELD_KEYS, Some("skip")),
            ("versoin", FIELD_KEYS, Some("version")),
            ("rename", FIELD_KEYS, None),
            ("x", FIELD_KEYS, None),
            ("primary_key", FIELD_KEYS, None),
            ("tabel", STRUCT_KEYS, Some("table")),
            ("rename_al", STRUCT_KEYS, Some("rename_all")),
            ("renameAll", STRUCT_KEYS, Some("rename_all")),
            ("krate", STRUCT_KEYS, Some("crate")),
            ("name", STRUCT_KEYS, None),
        ];
        for (name, known, expected) in cases {
            assert_eq!(nearest(name, known), expected, "{name}");
        }
    }

    #[test]
    fn malformed_attribute_is_a_syntax_error() {
        let attrs: Vec<Attribute> = vec![syn::parse_quote!(#[manifest])];
        let (_, errors) = parse(&attrs, Container::from_ast);
        assert_eq!(errors.len(), 1, "{errors:?}");
    }
}
