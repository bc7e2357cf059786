//! Plain Rust structs for a program's entities, from its IR: one field per stored
//! property (computed properties are not stored), plus the id, the tenant and, when
//! asked for, the version; derives `ManifestEntity` (manifest-core) and serde's traits.

use crate::{Error, StructOptions};
use manifest_compiler::Ir;
use manifest_ir::IrType;
use std::collections::HashSet;
use std::fmt::Write;

/// The Rust type of an IR type (`{"name", "nullable", "generic"?}`): `string` (and the
/// date and time types, which IR keeps as text) is `String`; `number`, `decimal`, `money`,
/// `float` and `duration` are `f64`; `int`/`integer` is `i64`; `boolean`/`bool` is `bool`;
/// an enum of the program is `String`; lists, maps and anything else are
/// `serde_json::Value`. A nullable type is an `Option` of it.
pub fn rust_type(ty: &IrType, enums: &HashSet<String>) -> String {
    let name = ty.name.as_str();
    let base = match name {
        "string" | "text" | "date" | "datetime" | "time" | "timestamp" | "uuid" | "email"
        | "url" => "String",
        "number" | "decimal" | "money" | "float" | "double" | "duration" => "f64",
        "int" | "integer" => "i64",
        "boolean" | "bool" => "bool",
        other if enums.contains(other) => "String",
        _ => "::serde_json::Value",
    };
    if ty.nullable {
        format!("::core::option::Option<{base}>")
    } else {
        base.to_string()
    }
}

/// `currentLoanId` -> `current_loan_id`; a run of capitals is one word (`isbnURL` -> `isbn_url`).
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1).copied();
            let starts_word = prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit())
                || (prev.is_some_and(|p| p.is_ascii_uppercase())
                    && next.is_some_and(|n| n.is_ascii_lowercase()));
            if starts_word {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `current_loan_id` -> `currentLoanId` (serde's `camelCase` rule for field names).
pub fn camel_case(field: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in field.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "dyn", "else", "enum", "extern", "false",
    "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "static", "struct", "trait", "true", "type", "unsafe", "use", "where",
    "while", "abstract", "become", "box", "do", "final", "macro", "override", "priv", "try",
    "typeof", "unsized", "virtual", "yield",
];

fn ident(field: &str) -> String {
    if KEYWORDS.contains(&field) {
        format!("r#{field}")
    } else {
        field.to_string()
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !matches!(s, "self" | "Self" | "super" | "crate" | "_")
}

/// The struct of `entity` (by name, outside modules) in `ir`.
pub fn entity_struct(ir: &Ir, entity: &str, options: &StructOptions) -> Result<String, Error> {
    let e = ir
        .entities
        .iter()
        .find(|e| e.name == entity && e.module.is_none())
        .ok_or_else(|| Error::UnknownEntity(entity.to_string()))?;
    let enums: HashSet<String> = ir
        .enums
        .iter()
        .filter_map(|x| x["name"].as_str().map(String::from))
        .collect();
    let struct_name = options.struct_name.as_deref().unwrap_or(entity);
    if !is_identifier(struct_name) {
        return Err(Error::BadName(struct_name.to_string()));
    }
    let tenant = options.tenant_field.as_deref().unwrap_or("tenant_id");
    let mut fields: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut field =
        |out: &mut Vec<String>, property: &str, ty: String, attrs: &[String], tenant: bool| {
            let name = snake_case(property);
            if !is_identifier(&name) || !seen.insert(name.clone()) {
                return Err(Error::BadField {
                    entity: entity.to_string(),
                    field: property.to_string(),
                });
            }
            let mut text = String::new();
            for a in attrs {
                let _ = writeln!(text, "    {a}");
            }
            if !tenant && camel_case(&name) != property {
                // The name does not survive snake_case and back: keep it as it is.
                let _ = writeln!(text, "    #[serde(rename = {property:?})]");
                let _ = writeln!(text, "    #[manifest(column = {property:?})]");
            }
            let _ = write!(text, "    pub {}: {ty},", ident(&name));
            out.push(text);
            Ok(())
        };
    let properties = &e.properties;
    // The id first (a property of its own, or added), then the tenant, then the rest.
    let id = properties.iter().find(|p| p.name == "id");
    let id_type = id.map_or("String".to_string(), |p| rust_type(&p.ty, &enums));
    field(&mut fields, "id", id_type, &[], false)?;
    let tenant_attrs = [format!("#[serde(rename = {tenant:?})]")];
    if snake_case(tenant) != tenant {
        return Err(Error::BadName(tenant.to_string()));
    }
    field(&mut fields, tenant, "String".into(), &tenant_attrs, true)?;
    for p in properties.iter().filter(|p| p.name != "id") {
        field(&mut fields, &p.name, rust_type(&p.ty, &enums), &[], false)?;
    }
    if let Some(version) = &options.version_field {
        let attrs = [
            "/// Checked and bumped by every write.".to_string(),
            "#[manifest(version)]".to_string(),
        ];
        field(
            &mut fields,
            &camel_case(version),
            "i64".into(),
            &attrs,
            false,
        )?;
    }
    let table = match &options.table {
        Some(t) => format!("table = {t:?}, "),
        None => String::new(),
    };
    let entity_attr = if struct_name == entity {
        String::new()
    } else {
        format!("entity = {entity:?}, ")
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "/// The entity `{entity}` of the program, one field per stored property (generated by manifest-build)."
    );
    let _ = writeln!(
        out,
        "#[derive(Debug, Clone, PartialEq, ::manifest_core::ManifestEntity, ::serde::Serialize, ::serde::Deserialize)]"
    );
    let _ = writeln!(
        out,
        "#[manifest({table}{entity_attr}rename_all = \"camelCase\")]"
    );
    let _ = writeln!(out, "#[serde(rename_all = \"camelCase\")]");
    let _ = writeln!(out, "pub struct {struct_name} {{");
    for f in fields {
        let _ = writeln!(out, "{f}");
    }
    let _ = writeln!(out, "}}");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(name: &str, nullable: bool) -> String {
        rust_type(
            &IrType {
                name: name.into(),
                nullable,
                ..IrType::default()
            },
            &HashSet::from(["Status".to_string()]),
        )
    }

    #[test]
    fn types_map_to_rust() {
        assert_eq!(ty("string", false), "String");
        assert_eq!(ty("number", false), "f64");
        assert_eq!(ty("money", false), "f64");
        assert_eq!(ty("int", false), "i64");
        assert_eq!(ty("integer", true), "::core::option::Option<i64>");
        assert_eq!(ty("boolean", false), "bool");
        assert_eq!(ty("datetime", true), "::core::option::Option<String>");
        assert_eq!(ty("Status", false), "String");
        assert_eq!(ty("list", false), "::serde_json::Value");
        assert_eq!(ty("Address", false), "::serde_json::Value");
    }

    #[test]
    fn names_convert_both_ways() {
        assert_eq!(snake_case("currentLoanId"), "current_loan_id");
        assert_eq!(camel_case("current_loan_id"), "currentLoanId");
        assert_eq!(snake_case("id"), "id");
        assert_eq!(snake_case("URLValue"), "url_value");
        assert_eq!(ident("type"), "r#type");
    }

    fn ir() -> Ir {
        let source = "enum Status { open closed }\nentity Book {\n  property required id: string\n  property title: string\n  property status: Status = open\n  property pageCount: int = 0\n  property note: string?\n  property type: string = \"x\"\n  property isbnURL: string = \"\"\n  computed long: boolean = self.pageCount > 500\n}\nstore Book in memory\n";
        manifest_compiler::compile(source).expect("compiles").ir
    }

    #[test]
    fn a_struct_has_the_id_tenant_properties_and_version() {
        let options = StructOptions {
            table: Some("library_book".into()),
            version_field: Some("version".into()),
            ..StructOptions::default()
        };
        let code = entity_struct(&ir(), "Book", &options).expect("generated");
        let fields: Vec<&str> = code
            .lines()
            .filter_map(|l| {
                l.trim()
                    .strip_prefix("pub ")
                    .filter(|l| !l.starts_with("struct"))
            })
            .collect();
        assert_eq!(
            fields,
            [
                "id: String,",
                "tenant_id: String,",
                "title: String,",
                "status: String,",
                "page_count: i64,",
                "note: ::core::option::Option<String>,",
                "r#type: String,",
                "isbn_url: String,",
                "version: i64,",
            ],
            "{code}"
        );
        assert!(code.contains("#[manifest(table = \"library_book\", rename_all = \"camelCase\")]"));
        assert!(code.contains("    #[serde(rename = \"tenant_id\")]\n    pub tenant_id"));
        assert!(code.contains("    #[manifest(version)]\n    pub version: i64"));
        // `isbnURL` does not survive snake_case and back, so it keeps its name.
        assert!(code.contains("#[serde(rename = \"isbnURL\")]"), "{code}");
        assert!(!code.contains("long"), "computed properties are not stored");
    }

    #[test]
    fn unknown_entities_and_clashing_fields_are_errors() {
        let o = StructOptions::default();
        assert!(matches!(
            entity_struct(&ir(), "Nope", &o),
            Err(Error::UnknownEntity(_))
        ));
        let clash = StructOptions {
            tenant_field: Some("title".into()),
            ..StructOptions::default()
        };
        assert!(matches!(
            entity_struct(&ir(), "Book", &clash),
            Err(Error::BadField { .. })
        ));
        let bad = StructOptions {
            struct_name: Some("not a name".into()),
            ..StructOptions::default()
        };
        assert!(matches!(
            entity_struct(&ir(), "Book", &bad),
            Err(Error::BadName(_))
        ));
    }
}
