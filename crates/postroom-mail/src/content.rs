//! An attachment's bytes: [`Content`], either decoded in memory or a base64
//! body still in the raw message, decoded piece by piece whenever it is
//! written or compared (so a 20 MB attachment is never held decoded). Both
//! give the same bytes; [`Content::len`] is known without decoding.

use std::borrow::Cow;
use std::io;

use postroom_core::content::FileBytes;

use crate::base64_body::{self, Flavor};

/// The decoded bytes of an attachment (transfer encoding removed, charset
/// untouched).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content<'m> {
    /// Decoded, in memory.
    Bytes(Vec<u8>),
    /// A base64 body in the raw message, decoded when read.
    Base64(Base64Body<'m>),
}

/// A base64 body of the raw message and what it decodes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base64Body<'m> {
    text: &'m [u8],
    flavor: Flavor,
    len: usize,
}

impl<'m> Base64Body<'m> {
    /// `text` (only the base64 alphabet, `=` and whitespace), to be decoded
    /// as mail-parser's `flavor` decoder does.
    pub(crate) fn new(text: &'m [u8], flavor: Flavor) -> Self {
        Base64Body {
            text,
            flavor,
            len: base64_body::decoded_len(text, flavor),
        }
    }
}

impl<'m> Content<'m> {
    /// How many bytes there are (decoded).
    pub fn len(&self) -> usize {
        match self {
            Content::Bytes(bytes) => bytes.len(),
            Content::Base64(body) => body.len,
        }
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes when they are in memory; `None` for a body decoded when read.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Content::Bytes(bytes) => Some(bytes),
            Content::Base64(_) => None,
        }
    }

    /// The bytes, decoded into memory if they are not there yet.
    pub fn to_bytes(&self) -> Cow<'_, [u8]> {
        match self {
            Content::Bytes(bytes) => Cow::Borrowed(bytes),
            Content::Base64(body) => Cow::Owned(base64_body::decode_all(body.text, body.flavor)),
        }
    }

    /// The same bytes, no longer tied to the raw message (decoded now).
    pub fn into_owned(self) -> Content<'static> {
        match self {
            Content::Bytes(bytes) => Content::Bytes(bytes),
            Content::Base64(body) => {
                Content::Bytes(base64_body::decode_all(body.text, body.flavor))
            }
        }
    }

    /// Whether these bytes equal `other` (decoding piece by piece).
    pub fn same_bytes(&self, other: &[u8]) -> bool {
        if self.len() != other.len() {
            return false;
        }
        let mut rest = other;
        let result = self.pieces(&mut |piece| match rest.strip_prefix(piece) {
            Some(tail) => {
                rest = tail;
                Ok(())
            }
            None => Err(io::Error::other("different")),
        });
        result.is_ok() && rest.is_empty()
    }
}

impl FileBytes for Content<'_> {
    fn byte_len(&self) -> u64 {
        self.len() as u64
    }

    fn pieces(&self, sink: &mut dyn FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        match self {
            Content::Bytes(bytes) => sink(bytes),
            Content::Base64(body) => base64_body::decode_pieces(body.text, body.flavor, sink),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_give_the_same_bytes() {
        let text = b"QUJD\r\nRA==\r\n";
        let lazy = Content::Base64(Base64Body::new(text, Flavor::Mime));
        let eager = Content::Bytes(b"ABCD".to_vec());
        assert_eq!(lazy.len(), 4);
        assert_eq!(lazy.as_bytes(), None);
        assert_eq!(lazy.to_bytes().as_ref(), b"ABCD");
        assert!(lazy.same_bytes(b"ABCD"));
        assert!(!lazy.same_bytes(b"ABCE"));
        assert!(!lazy.same_bytes(b"ABC"));
        assert_eq!(lazy.clone().into_owned(), eager);
        assert_eq!(eager.as_bytes(), Some(&b"ABCD"[..]));
        let mut joined = Vec::new();
        lazy.pieces(&mut |p| {
            joined.extend_from_slice(p);
            Ok(())
        })
        .unwrap();
        assert_eq!(joined, b"ABCD");
        assert_eq!(lazy.byte_len(), 4);
    }
}
