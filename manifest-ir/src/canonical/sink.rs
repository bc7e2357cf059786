//! Where canonical text goes: a `String`, or SHA-256 fed in chunks.

use sha2::{Digest, Sha256};
use std::fmt;

/// Where canonical JSON text goes.
pub trait Sink {
    /// Appends `s`.
    fn push_str(&mut self, s: &str);
    /// Appends `c`.
    fn push(&mut self, c: char) {
        self.push_str(c.encode_utf8(&mut [0; 4]));
    }
}

impl Sink for String {
    #[inline]
    fn push_str(&mut self, s: &str) {
        String::push_str(self, s);
    }
    #[inline]
    fn push(&mut self, c: char) {
        String::push(self, c);
    }
}

impl<S: Sink + ?Sized> Sink for &mut S {
    #[inline]
    fn push_str(&mut self, s: &str) {
        (**self).push_str(s);
    }
    #[inline]
    fn push(&mut self, c: char) {
        (**self).push(c);
    }
}

/// A [`Sink`] that hashes the text with SHA-256, fed in chunks of 16 KiB.
#[derive(Clone, Default)]
pub struct HashSink {
    hasher: Sha256,
    buf: Vec<u8>,
}

impl HashSink {
    const CHUNK: usize = 1 << 14;

    /// An empty hasher.
    pub fn new() -> Self {
        HashSink {
            hasher: Sha256::new(),
            buf: Vec::with_capacity(Self::CHUNK),
        }
    }

    /// The SHA-256 of all the text pushed, as lowercase hex.
    pub fn finish(mut self) -> String {
        self.hasher.update(&self.buf);
        let digest = self.hasher.finalize();
        let mut hex = String::with_capacity(2 * digest.len());
        for b in digest {
            hex.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            hex.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
        }
        hex
    }
}

impl fmt::Debug for HashSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashSink")
            .field("buffered", &self.buf.len())
            .finish_non_exhaustive()
    }
}

impl Sink for HashSink {
    #[inline]
    fn push(&mut self, c: char) {
        if c.is_ascii() && self.buf.len() < Self::CHUNK {
            self.buf.push(c as u8);
        } else {
            self.push_str(c.encode_utf8(&mut [0; 4]));
        }
    }

    #[inline]
    fn push_str(&mut self, s: &str) {
        if self.buf.len() + s.len() > Self::CHUNK {
            self.hasher.update(&self.buf);
            self.buf.clear();
        }
        if s.len() > Self::CHUNK {
            self.hasher.update(s.as_bytes());
        } else {
            self.buf.extend_from_slice(s.as_bytes());
        }
    }
}

/// The sink of [`super::to_string`], which keeps the serializer's buffer instead.
#[derive(Debug)]
pub(super) struct Nowhere;

impl Sink for Nowhere {
    fn push_str(&mut self, _: &str) {}
}
