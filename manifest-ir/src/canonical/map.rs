//! Maps: entries sorted by `localeCompare` of their keys.
//!
//! A map's text is written to the serializer's buffer as its entries come (the buffer is not
//! flushed to the sink while a map is open), and only the previous key is kept, to see whether
//! the keys come in order. They nearly always do (`serde_json`'s and `BTreeMap`'s maps iterate
//! in byte order), and then the map is done when its `}` is written. When they did not, the
//! map's text is split into its entries again ([`scan`]), which are sorted and written back
//! in place. Nested maps are finished (and sorted) before the map holding them, so the text of
//! a map in order is never copied, and no bookkeeping is kept per entry.

use super::{Error, Serializer, Sink};
use crate::js::locale_compare;
use scan::{Entry, Key};
use serde::Serialize;
use serde::ser::{self, Impossible};
use std::cmp::Ordering;

mod scan;

/// The open maps' bookkeeping, reused from map to map.
#[derive(Debug, Default)]
pub(super) struct Maps {
    /// The open maps, outermost first.
    frames: Vec<Frame>,
    /// The raw text of keys that escaping changed (the others are read from the text).
    keys: String,
    /// The entries of a map being sorted.
    entries: Vec<Entry>,
    /// A map's text while its entries are rearranged.
    scratch: String,
}

#[derive(Debug)]
struct Frame {
    /// Where the map's `{` is in the text.
    start: usize,
    /// Where its keys start in `Maps::keys`.
    keys: usize,
    /// The last key written, if any.
    previous: Option<Key>,
    /// Whether its keys have come in order so far.
    sorted: bool,
    /// Between `serialize_key` and `serialize_value`.
    value_due: bool,
}

fn unfinished() -> Error {
    Error::Custom("a map's entries came out of turn (a nested map was left unfinished)".into())
}

impl Maps {
    #[inline]
    pub(super) fn is_open(&self) -> bool {
        !self.frames.is_empty()
    }

    /// Opens a map; returns its depth.
    fn open(&mut self, text: &mut String) -> usize {
        self.frames.push(Frame {
            start: text.len(),
            keys: self.keys.len(),
            previous: None,
            sorted: true,
            value_due: false,
        });
        text.push('{');
        self.frames.len() - 1
    }

    fn frame(&mut self, depth: usize) -> Result<&mut Frame, Error> {
        if self.frames.len() != depth + 1 {
            return Err(unfinished());
        }
        self.frames.last_mut().ok_or_else(unfinished)
    }

    /// Writes `"key":` for the innermost map.
    #[inline]
    fn key(&mut self, text: &mut String, key: &str) -> Result<(), Error> {
        let Some(frame) = self.frames.last_mut() else {
            return Err(unfinished());
        };
        if frame.value_due {
            return Err(Error::Custom("a map key came where a value was due".into()));
        }
        if frame.previous.is_some() {
            text.push(',');
        }
        let this = if !super::text::needs_escape(key.as_bytes()) {
            text.push('"');
            let start = text.len();
            text.push_str(key);
            let end = text.len();
            text.push('"');
            Key::in_text(start, end)
        } else {
            super::text::write_string(text, key)?;
            let at = self.keys.len();
            self.keys.push_str(key);
            Key::in_keys(at, self.keys.len())
        };
        text.push(':');
        if let Some(previous) = frame.previous.filter(|_| frame.sorted) {
            let previous = previous.text(text, &self.keys);
            frame.sorted = locale_compare(previous, key) != Ordering::Greater;
        }
        frame.previous = Some(this);
        Ok(())
    }

    /// Closes the map at `depth`, sorting its entries if they came out of order.
    fn close(&mut self, text: &mut String, depth: usize) -> Result<(), Error> {
        if self.frame(depth)?.value_due {
            return Err(Error::Custom("a map key has no value".into()));
        }
        let Some(frame) = self.frames.pop() else {
            return Err(unfinished());
        };
        if !frame.sorted {
            self.sort(text, frame.start)?;
        }
        text.push('}');
        self.keys.truncate(frame.keys);
        Ok(())
    }

    /// Rewrites the map from `start` (its `{`, then its entries) with its entries sorted.
    #[cold]
    fn sort(&mut self, text: &mut String, start: usize) -> Result<(), Error> {
        let map = text.get(start..).ok_or_else(unfinished)?;
        self.entries.clear();
        scan::entries(map, &mut self.keys, &mut self.entries)?;
        let keys = self.keys.as_str();
        self.entries
            .sort_by(|a, b| locale_compare(a.key.text(map, keys), b.key.text(map, keys)));
        self.scratch.clear();
        self.scratch.push_str(map);
        text.truncate(start);
        text.push('{');
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            text.push_str(
                self.scratch
                    .get(e.text.start..e.text.end)
                    .unwrap_or_default(),
            );
        }
        Ok(())
    }
}

/// A map (or a struct with `#[serde(flatten)]` fields) being written.
#[derive(Debug)]
pub struct MapCompound<'a, W> {
    ser: &'a mut Serializer<W>,
    depth: usize,
}

impl<'a, W: Sink> MapCompound<'a, W> {
    pub(super) fn open(ser: &'a mut Serializer<W>) -> Self {
        let depth = ser.maps.open(&mut ser.text);
        MapCompound { ser, depth }
    }

    #[inline]
    fn key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        key.serialize(KeySerializer {
            maps: &mut self.ser.maps,
            text: &mut self.ser.text,
        })
    }
}

impl<W: Sink> ser::SerializeMap for MapCompound<'_, W> {
    type Ok = ();
    type Error = Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.key(key)?;
        self.ser.maps.frame(self.depth)?.value_due = true;
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let frame = self.ser.maps.frame(self.depth)?;
        if !std::mem::take(&mut frame.value_due) {
            return Err(Error::Custom("a map value came before its key".into()));
        }
        value.serialize(&mut *self.ser)
    }

    #[inline]
    fn serialize_entry<K, V>(&mut self, key: &K, value: &V) -> Result<(), Error>
    where
        K: Serialize + ?Sized,
        V: Serialize + ?Sized,
    {
        self.key(key)?;
        value.serialize(&mut *self.ser)
    }

    fn end(self) -> Result<(), Error> {
        self.ser.maps.close(&mut self.ser.text, self.depth)?;
        self.ser.flush_if_full();
        Ok(())
    }
}

/// Writes a map key, which must be a string (or a char, or a unit variant's name).
#[derive(Debug)]
struct KeySerializer<'a> {
    maps: &'a mut Maps,
    text: &'a mut String,
}

type NoKey = Impossible<(), Error>;

fn not_string<T>(what: &'static str) -> Result<T, Error> {
    Err(Error::KeyMustBeString(what))
}

impl ser::Serializer for KeySerializer<'_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = NoKey;
    type SerializeTuple = NoKey;
    type SerializeTupleStruct = NoKey;
    type SerializeTupleVariant = NoKey;
    type SerializeMap = NoKey;
    type SerializeStruct = NoKey;
    type SerializeStructVariant = NoKey;

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.maps.key(self.text, v)
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.maps.key(self.text, v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, v: &'static str) -> Result<(), Error> {
        self.maps.key(self.text, v)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_bool(self, _: bool) -> Result<(), Error> {
        not_string("a bool")
    }
    fn serialize_i8(self, _: i8) -> Result<(), Error> {
        not_string("a number")
    }
    fn serialize_i16(self, _: i16) -> Result<(), Error> {
        not_string("a number")
    }
    fn serialize_i32(self, _: i32) -> Result<(), Error> {
        not_string("a number")
    }
    fn serialize_i64(self, _: i64) -> Result<(), Error> {
        not_string("a number")
    }
    fn serialize_i128(self, _: i128) -> Result<(), Error> {
        not_string("a number")
    }
    fn serialize_u8(self, _: u8) -> Result<(), Error> {
        not_string("a number")
    }
    fn serialize_u16(self, _: u16) -> Result<(), Error> {
        not_string("a number")
    }
    fn serialize_u32(self, _: u32) -> Result<(), Error> {
        not_string("a number")
    }
    fn serialize_u64(self, _: u64) -> Result<(), Error> {
        not_string("a number")
    }
    fn serialize_u128(self, _: u128) -> Result<(), Error> {
        not_string("a number")
    }
    fn serialize_f32(self, _: f32) -> Result<(), Error> {
        not_string("a number")
    }
    fn serialize_f64(self, _: f64) -> Result<(), Error> {
        not_string("a number")
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), Error> {
        not_string("bytes")
    }
    fn serialize_none(self) -> Result<(), Error> {
        not_string("null")
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), Error> {
        not_string("an option")
    }
    fn serialize_unit(self) -> Result<(), Error> {
        not_string("null")
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        not_string("null")
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Error> {
        not_string("an enum variant with data")
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<NoKey, Error> {
        not_string("an array")
    }
    fn serialize_tuple(self, _: usize) -> Result<NoKey, Error> {
        not_string("an array")
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<NoKey, Error> {
        not_string("an array")
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<NoKey, Error> {
        not_string("an enum variant with data")
    }
    fn serialize_map(self, _: Option<usize>) -> Result<NoKey, Error> {
        not_string("an object")
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<NoKey, Error> {
        not_string("an object")
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<NoKey, Error> {
        not_string("an enum variant with data")
    }
}
