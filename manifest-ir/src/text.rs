//! IR as JSON text: serde_json's writer with JavaScript's number text (`1e+21`, not
//! `1e21`), so a written IR reads back, here or in node, as the numbers it holds.

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter, Serializer};
use std::io;

/// A formatter writing floats as JavaScript's `String(n)` does, around another formatter.
struct Js<F>(F);

impl<F: Formatter> Formatter for Js<F> {
    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        writer.write_all(crate::js::number_to_string(value).as_bytes())
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        self.write_f64(writer, f64::from(value))
    }

    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn end_object_key<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_key(w)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

fn write<T: Serialize + ?Sized, F: Formatter>(value: &T, formatter: F) -> String {
    let mut out = Vec::with_capacity(4096);
    let mut ser = Serializer::with_formatter(&mut out, Js(formatter));
    // The IR's types serialize to JSON without fail (string keys, no custom errors), and a
    // `Vec` does not fail to grow; an error here would be a bug in a `Serialize` impl.
    if value.serialize(&mut ser).is_err() {
        return String::from("null");
    }
    // serde_json writes valid UTF-8.
    String::from_utf8(out).unwrap_or_default()
}

/// `value` as indented JSON text (two spaces), numbers as JavaScript writes them.
pub fn to_string_pretty<T: Serialize + ?Sized>(value: &T) -> String {
    write(value, PrettyFormatter::new())
}

/// `value` as compact JSON text, numbers as JavaScript writes them.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> String {
    write(value, CompactFormatter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_written_as_javascript_writes_them() {
        let v = serde_json::json!({"a": [1e21, 0.1, 1.5e300, 6], "b": -0.000001});
        assert_eq!(
            to_string(&v),
            r#"{"a":[1e+21,0.1,1.5e+300,6],"b":-0.000001}"#
        );
        assert!(to_string_pretty(&v).contains("\n  \"a\": [\n    1e+21,"));
    }
}
