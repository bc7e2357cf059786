//! Arrays and structs being written.

use super::{Error, Serializer, Sink};
use crate::js::locale_compare;
use serde::Serialize;
use serde::ser;
use std::cmp::Ordering;

/// An array being written: a sequence, tuple, tuple struct or tuple variant.
#[derive(Debug)]
pub struct Seq<'a, W> {
    pub(super) ser: &'a mut Serializer<W>,
    pub(super) first: bool,
    pub(super) close: &'static str,
}

impl<W: Sink> Seq<'_, W> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        if !std::mem::take(&mut self.first) {
            self.ser.push(',');
        }
        value.serialize(&mut *self.ser)?;
        self.ser.flush_if_full();
        Ok(())
    }
    fn close(self) -> Result<(), Error> {
        self.ser.push_str(self.close);
        Ok(())
    }
}

/// The four sequence-like traits of serde, each an element after another.
macro_rules! seq_like {
    ($($trait:ident :: $method:ident),*) => {$(
        impl<W: Sink> ser::$trait for Seq<'_, W> {
            type Ok = ();
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
                self.element(value)
            }
            fn end(self) -> Result<(), Error> {
                self.close()
            }
        }
    )*};
}

seq_like!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

/// A struct (or struct variant) being written, its fields streamed and checked to be in
/// `localeCompare` order.
#[derive(Debug)]
pub struct Struct<'a, W> {
    pub(super) ser: &'a mut Serializer<W>,
    pub(super) container: &'static str,
    pub(super) previous: Option<&'static str>,
    pub(super) close: &'static str,
}

impl<W: Sink> Struct<'_, W> {
    fn field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        if let Some(previous) = self.previous {
            if locale_compare(previous, key) != Ordering::Less {
                return Err(Error::KeyOrder {
                    container: self.container,
                    previous,
                    key,
                });
            }
            self.ser.push(',');
        }
        self.previous = Some(key);
        self.ser.string(key)?;
        self.ser.push(':');
        value.serialize(&mut *self.ser)?;
        self.ser.flush_if_full();
        Ok(())
    }
    fn close(self) -> Result<(), Error> {
        self.ser.push_str(self.close);
        Ok(())
    }
}

impl<W: Sink> ser::SerializeStruct for Struct<'_, W> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.field(key, value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl<W: Sink> ser::SerializeStructVariant for Struct<'_, W> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.field(key, value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}
