//! The canonical JSON text `irHash` is computed over, written straight from any
//! [`Serialize`] value: what JavaScript's `JSON.stringify` writes for it once every
//! object's keys are sorted by `String.prototype.localeCompare` (no whitespace).
//!
//! - Numbers are JS text: integers in decimal, floats as `String(n)` (`6`, `0.1`, `1e+21`),
//!   NaN and the infinities as `null`, as `JSON.stringify` writes them.
//! - Strings are escaped as `JSON.stringify` escapes them ([`crate::js::write_json_string`]).
//! - `None`, `()` and unit structs are `null`; a unit variant is its name as a string;
//!   newtype, tuple and struct variants are `{"Variant": ...}`, as `serde_json` writes them.
//! - **Structs** are streamed field by field, in the order serde gives them, never held back
//!   to be sorted: their fields must be declared in `localeCompare` order of their JSON names,
//!   and a field that is not strictly after the one before it is an [`Error::KeyOrder`]
//!   (fields `skip_serializing_if` leaves out are no matter; `#[serde(flatten)]` makes serde
//!   write the struct as a map).
//! - **Maps** have dynamic keys, so their entries are sorted. A map is written as its entries
//!   come, keeping only its last key to see whether the keys come in order; nearly every map
//!   does (`serde_json`'s and `BTreeMap`'s iterate in byte order) and is left as written, and
//!   any other is split back into its entries, sorted and rewritten in place. Keys must be
//!   strings.
//!
//! The text goes to a [`Sink`] — a `String` ([`to_string`]) or SHA-256 ([`sha256_hex`]) —
//! through a buffer handed over in pieces of 16 KiB or more, between values outside any map.

mod compound;
mod map;
mod sink;
mod text;

use serde::Serialize;
use serde::ser::{self, SerializeSeq as _};
use sink::Nowhere;
use std::fmt;
use text::write_string;

pub use compound::{Seq, Struct};
pub use map::MapCompound;
pub use sink::{HashSink, Sink};

/// Why a value has no canonical text.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An error from a `Serialize` impl, or a `Serialize` impl that broke serde's contract.
    #[error("{0}")]
    Custom(String),
    /// A struct's fields are not declared in `localeCompare` order of their JSON names.
    #[error(
        "`{container}`: field `{key}` comes after `{previous}`, but canonical JSON puts it \
         before (keys sort by localeCompare); declare the fields in that order"
    )]
    KeyOrder {
        /// The struct (or, for a struct variant, the variant).
        container: &'static str,
        /// The field serialized before `key`.
        previous: &'static str,
        /// The field out of order.
        key: &'static str,
    },
    /// A map key that is not a string.
    #[error("a map key must be a string, not {0}")]
    KeyMustBeString(&'static str),
}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::Custom(msg.to_string())
    }
}

/// The SHA-256 of the canonical text of `v`, as lowercase hex.
pub fn sha256_hex<T: Serialize + ?Sized>(v: &T) -> Result<String, Error> {
    let mut sink = HashSink::new();
    to_sink(v, &mut sink)?;
    Ok(sink.finish())
}

/// Writes the canonical text of `v` to `sink`, in pieces of 16 KiB or more (all of it at once
/// if it is one map). After an error, what `sink` holds is unspecified.
pub fn to_sink<T: Serialize + ?Sized, S: Sink + ?Sized>(v: &T, sink: &mut S) -> Result<(), Error> {
    let mut ser = Serializer::new(sink);
    v.serialize(&mut ser)?;
    ser.into_inner().map(drop)
}

/// The canonical JSON [`serde::Serializer`]: `value.serialize(&mut ser)`, then
/// [`Serializer::into_inner`] for the sink with all the text in it.
///
/// The text is written to a buffer and handed to the sink in pieces of at least 16 KiB, between
/// values outside any map (a map's text stays in the buffer until the outermost map closes).
#[derive(Debug)]
pub struct Serializer<W> {
    out: W,
    /// Text not yet handed to `out`.
    text: String,
    /// How much `text` may hold before it is handed over.
    flush_at: usize,
    maps: map::Maps,
}

/// The canonical text of `v`.
pub fn to_string<T: Serialize + ?Sized>(v: &T) -> Result<String, Error> {
    let mut ser = Serializer {
        out: Nowhere,
        text: String::new(),
        flush_at: usize::MAX,
        maps: map::Maps::default(),
    };
    v.serialize(&mut ser)?;
    ser.check_finished()?;
    Ok(ser.text)
}

impl<W: Sink> Serializer<W> {
    const CHUNK: usize = 1 << 14;

    /// A serializer writing to `out`.
    pub fn new(out: W) -> Self {
        Serializer {
            out,
            text: String::with_capacity(Self::CHUNK + 1024),
            flush_at: Self::CHUNK,
            maps: map::Maps::default(),
        }
    }

    /// The sink, once the rest of the text is handed to it; an error if the value serialized
    /// left a map unfinished (a `Serialize` impl that broke serde's contract).
    pub fn into_inner(mut self) -> Result<W, Error> {
        self.check_finished()?;
        self.out.push_str(&self.text);
        Ok(self.out)
    }

    fn check_finished(&self) -> Result<(), Error> {
        if self.maps.is_open() {
            return Err(Error::Custom("a map was left unfinished".into()));
        }
        Ok(())
    }

    /// Hands the text to the sink if it is long enough and no map is open.
    #[inline]
    fn flush_if_full(&mut self) {
        if self.text.len() >= self.flush_at && !self.maps.is_open() {
            self.out.push_str(&self.text);
            self.text.clear();
        }
    }

    #[inline]
    fn push_str(&mut self, s: &str) {
        self.text.push_str(s);
    }

    #[inline]
    fn push(&mut self, c: char) {
        self.text.push(c);
    }

    fn string(&mut self, s: &str) -> Result<(), Error> {
        write_string(&mut self.text, s)
    }

    fn unsigned(&mut self, negative: bool, mut n: u64) {
        let mut buf = [0u8; 21];
        let mut at = buf.len();
        loop {
            at -= 1;
            buf[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        if negative {
            at -= 1;
            buf[at] = b'-';
        }
        self.push_str(std::str::from_utf8(&buf[at..]).unwrap_or_default());
    }

    /// `{"variant":` — the opening of a newtype, tuple or struct variant.
    fn open_variant(&mut self, variant: &'static str) -> Result<(), Error> {
        self.push('{');
        self.string(variant)?;
        self.push(':');
        Ok(())
    }
}

impl<'a, W: Sink> ser::Serializer for &'a mut Serializer<W> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Seq<'a, W>;
    type SerializeTuple = Seq<'a, W>;
    type SerializeTupleStruct = Seq<'a, W>;
    type SerializeTupleVariant = Seq<'a, W>;
    type SerializeMap = MapCompound<'a, W>;
    type SerializeStruct = Struct<'a, W>;
    type SerializeStructVariant = Struct<'a, W>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.push_str(if v { "true" } else { "false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.unsigned(v < 0, v.unsigned_abs());
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        self.push_str(&v.to_string());
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.unsigned(false, v);
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        self.push_str(&v.to_string());
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.serialize_f64(v.into())
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        if v.is_finite() {
            // `js::number_to_string` without its allocation: integral values print
            // without `.0`, and -0 as `0`, as `String(n)` does.
            self.push_str(ryu_js::Buffer::new().format_finite(v));
        } else {
            self.push_str("null");
        }
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.string(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.string(v)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        let mut seq = self.serialize_seq(Some(v.len()))?;
        for b in v {
            seq.serialize_element(b)?;
        }
        seq.end()
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.push_str("null");
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.string(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.open_variant(variant)?;
        value.serialize(&mut *self)?;
        self.push('}');
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Seq<'a, W>, Error> {
        self.push('[');
        Ok(Seq {
            ser: self,
            first: true,
            close: "]",
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Seq<'a, W>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Seq<'a, W>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Seq<'a, W>, Error> {
        self.open_variant(variant)?;
        self.push('[');
        Ok(Seq {
            ser: self,
            first: true,
            close: "]}",
        })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<MapCompound<'a, W>, Error> {
        Ok(MapCompound::open(self))
    }
    fn serialize_struct(self, name: &'static str, _len: usize) -> Result<Struct<'a, W>, Error> {
        self.push('{');
        Ok(Struct {
            ser: self,
            container: name,
            previous: None,
            close: "}",
        })
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Struct<'a, W>, Error> {
        self.open_variant(variant)?;
        self.push('{');
        Ok(Struct {
            ser: self,
            container: variant,
            previous: None,
            close: "}}",
        })
    }
}
