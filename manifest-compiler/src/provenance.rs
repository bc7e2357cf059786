//! Provenance: the hashes and stamps upstream puts in `provenance`.
//!
//! - `contentHash` = SHA-256 (hex) of the source text exactly as given (UTF-8).
//! - `irHash` = SHA-256 (hex) of `JSON.stringify` of the whole IR with `irHash`
//!   left out of `provenance` and every object's keys sorted (`localeCompare`).

use manifest_ir::canonical;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

/// Our compiler's version, stamped into `provenance.compilerVersion`.
pub const COMPILER_VERSION: &str = concat!("manifest-rs ", env!("CARGO_PKG_VERSION"));
/// The IR schema version.
pub const SCHEMA_VERSION: &str = "1.0";

/// SHA-256 (hex) of `text` (`contentHash`), by the hasher `irHash` is written to.
pub fn sha256_hex(text: &str) -> String {
    let mut hasher = canonical::HashSink::new();
    canonical::Sink::push_str(&mut hasher, text);
    hasher.finish()
}

/// An IR document with `provenance.irHash` left out, as it is hashed.
struct WithoutIrHash<'a>(&'a Value);

/// A provenance object without its `irHash`.
struct ProvenanceWithoutIrHash<'a>(&'a Map<String, Value>);

impl Serialize for WithoutIrHash<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Value::Object(top) = self.0 else {
            return self.0.serialize(s);
        };
        let mut m = s.serialize_map(Some(top.len()))?;
        for (k, v) in top {
            match v {
                Value::Object(p) if k == "provenance" => {
                    m.serialize_entry(k, &ProvenanceWithoutIrHash(p))?
                }
                v => m.serialize_entry(k, v)?,
            }
        }
        m.end()
    }
}

impl Serialize for ProvenanceWithoutIrHash<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().filter(|(k, _)| k.as_str() != "irHash"))
    }
}

/// The provenance without `irHash`.
pub fn provenance(source: &str, compiled_at: String) -> manifest_ir::Provenance {
    manifest_ir::Provenance {
        compiled_at: Some(compiled_at),
        compiler_version: Some(COMPILER_VERSION.into()),
        content_hash: Some(sha256_hex(source)),
        ir_hash: None,
        schema_version: Some(SCHEMA_VERSION.into()),
    }
}

/// `irHash` of an IR document read as JSON: any `irHash` already in its provenance is left
/// out (a document's stamp can be checked with it).
pub fn ir_hash(ir: &Value) -> String {
    // A JSON value's keys are strings, so its canonical text cannot fail.
    canonical::sha256_hex(&WithoutIrHash(ir)).unwrap_or_default()
}

/// Computes `irHash` over `ir` (its provenance's own `irHash` left out) and stamps it in:
/// one streaming pass over the typed tree, whose fields are declared in the text's order.
pub fn stamp_ir_hash(ir: &mut manifest_ir::Ir) -> Result<(), manifest_ir::canonical::Error> {
    if let Some(p) = &mut ir.provenance {
        p.ir_hash = None;
    }
    let hash = manifest_ir::canonical::sha256_hex(&*ir)?;
    if let Some(p) = &mut ir.provenance {
        p.ir_hash = Some(hash);
    }
    Ok(())
}

/// The current UTC time as ISO-8601 with milliseconds (`2024-01-01T00:00:00.000Z`).
pub fn now_iso8601() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    iso8601(now.as_secs() as i64, now.subsec_millis())
}

impl crate::Options {
    /// Options for a reproducible build: `compiled_at` is `SOURCE_DATE_EPOCH` (seconds since
    /// the Unix epoch, the reproducible-builds convention) when it is set and a number, so the
    /// same source compiles to the same bytes; else the current time, as [`Default`].
    pub fn from_env() -> Self {
        let epoch = std::env::var("SOURCE_DATE_EPOCH").ok();
        crate::Options {
            compiled_at: epoch
                .and_then(|s| s.trim().parse::<i64>().ok())
                .map(|secs| iso8601(secs, 0)),
        }
    }
}

/// `secs` since the Unix epoch and `millis`, as ISO-8601 UTC with milliseconds.
pub fn iso8601(secs: i64, millis: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps_as_iso8601() {
        assert_eq!(iso8601(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_704_067_200, 5), "2024-01-01T00:00:00.005Z");
        assert_eq!(iso8601(951_782_400, 0), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601(-1, 999), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn dates_convert() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(now_iso8601().len(), 24);
    }

    #[test]
    fn ir_hash_leaves_the_stamp_out() {
        let long = "x".repeat(70_000);
        let ir = json!({
            "provenance": {"irHash": "stale", "contentHash": "c"},
            "B": [1, -2, 0.5, long], "a": {"Z": null, "y": "q\"\n"}
        });
        let mut without = ir.clone();
        if let Some(p) = without["provenance"].as_object_mut() {
            p.remove("irHash");
        }
        let text = canonical::to_string(&without).unwrap();
        assert!(text.starts_with(r#"{"a":{"y":"q\"\n","Z":null},"B":[1,-2,0.5,"xx"#));
        assert_eq!(ir_hash(&ir), sha256_hex(&text));
    }

    #[test]
    fn content_hash_is_sha256_of_the_source() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
