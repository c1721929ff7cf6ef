//! S/MIME opaque-signed data (`application/pkcs7-mime;
//! smime-type=signed-data`, `smime.p7m`): the signed MIME entity carried
//! inside the PKCS#7 / CMS structure, so the files in it can be filed.
//!
//! A small BER reader, enough for the path that leads to the content:
//! `ContentInfo { contentType = id-signedData, [0] SignedData }`, then
//! `SignedData { version, digestAlgorithms, encapContentInfo { eContentType,
//! [0] eContent OCTET STRING }, ... }`. Definite and indefinite lengths, and
//! OCTET STRINGs made of segments (Outlook and `openssl -stream` write
//! those), are read; elements off that path are skipped by their length
//! (walked only when their length is indefinite, to find their end). The
//! signature is not checked: postroom files mail, it does not vouch for it.
//! Nesting is bounded and every length is checked against the bytes there
//! are, so arbitrary input gives an error, never a panic or a large
//! allocation (the content is at most as long as the input). Pure: bytes in,
//! [`SignedContent`] or [`MailError`] out.

use std::borrow::Cow;
use std::ops::Range;

use mail_parser::decoders::base64::base64_decode;

use crate::error::MailError;

/// Deepest nesting of elements read (the path to the content is about
/// seven levels deep; certificates skipped by length do not count).
const MAX_DEPTH: usize = 32;
/// Deepest nesting of OCTET STRING segments inside segments (writers use one
/// level).
const MAX_SEGMENT_DEPTH: usize = 4;
/// Longest dotted OID quoted in [`NotOpaqueSigned::Other`].
const MAX_OID_CHARS: usize = 64;

/// 1.2.840.113549.1.7.1, id-data.
const OID_DATA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01];
/// 1.2.840.113549.1.7.2, id-signedData.
const OID_SIGNED_DATA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02];
/// 1.2.840.113549.1.7.3, id-envelopedData.
const OID_ENVELOPED_DATA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x03];
/// 1.2.840.113549.1.9.16.1.23, id-ct-authEnvelopedData.
const OID_AUTH_ENVELOPED_DATA: &[u8] = &[
    0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x01, 0x17,
];

const CLASS_UNIVERSAL: u8 = 0;
const TAG_OCTET_STRING: u32 = 4;
const INTEGER: Tag = Tag::universal(false, 2);
const OID: Tag = Tag::universal(false, 6);
const SEQUENCE: Tag = Tag::universal(true, 16);
const SET: Tag = Tag::universal(true, 17);
/// `[0]`, constructed (an EXPLICIT tag).
const EXPLICIT_0: Tag = Tag {
    class: 2,
    constructed: true,
    number: 0,
};

/// What a PKCS#7 / CMS blob holds, as far as filing is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignedContent {
    /// Opaque signed data: the content that was signed (for S/MIME, the
    /// MIME entity with its headers).
    Content(Vec<u8>),
    /// Well-formed, but not opaque signed data: nothing to take out, the
    /// blob is kept as a file as it is.
    NotOpaqueSigned(NotOpaqueSigned),
}

/// What a PKCS#7 / CMS blob that is not opaque signed data is instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotOpaqueSigned {
    /// Encrypted (enveloped or authenticated-enveloped) data.
    Enveloped,
    /// Signed data without content: a detached signature.
    Detached,
    /// Another content type (dotted OID): of the `ContentInfo`, or of the
    /// signed content when it is not `id-data`.
    Other {
        /// The content type, e.g. `1.2.840.113549.1.9.16.1.9`.
        content_type: String,
    },
}

/// The content of opaque signed data (`smime.p7m`), or what the blob is
/// instead. Binary (BER / DER) input is expected; a blob saved as base64 or
/// PEM text is decoded first.
///
/// Fails when the bytes are not the BER of a `ContentInfo`, or of the
/// `SignedData` it announces, up to the content.
pub fn opaque_signed_content(data: &[u8]) -> Result<SignedContent, MailError> {
    let data = binary(data);
    let ber = Ber { data: &data };
    let root = ber.element(0, data.len(), 0)?;
    ber.require(&root, SEQUENCE, "a ContentInfo is not a sequence")?;
    let mut fields = ber.children(&root, 1);
    let content_type = fields.require(OID, "ContentInfo has no content type")?;
    let content_type = ber.bytes(&content_type);
    if content_type == OID_ENVELOPED_DATA || content_type == OID_AUTH_ENVELOPED_DATA {
        return Ok(SignedContent::NotOpaqueSigned(NotOpaqueSigned::Enveloped));
    }
    if content_type != OID_SIGNED_DATA {
        return Ok(SignedContent::NotOpaqueSigned(NotOpaqueSigned::Other {
            content_type: dotted(content_type),
        }));
    }
    let explicit = fields.require(EXPLICIT_0, "the signed data's ContentInfo has no content")?;
    let signed_data = ber
        .children(&explicit, 2)
        .require(SEQUENCE, "SignedData is not a sequence")?;
    let mut fields = ber.children(&signed_data, 3);
    fields.require(INTEGER, "SignedData has no version")?;
    fields.require(SET, "SignedData has no digest algorithms")?;
    let encap = fields.require(SEQUENCE, "SignedData has no encapsulated content info")?;
    let mut fields = ber.children(&encap, 4);
    let econtent_type = fields.require(OID, "the encapsulated content has no type")?;
    let Some(explicit) = fields.next_element()? else {
        return Ok(SignedContent::NotOpaqueSigned(NotOpaqueSigned::Detached));
    };
    ber.require(
        &explicit,
        EXPLICIT_0,
        "the encapsulated content is not tagged [0]",
    )?;
    let not_octets = "the encapsulated content is not an octet string";
    let octets = ber.children(&explicit, 5).next_or(not_octets)?;
    if !octets.tag.is_octet_string() {
        return Err(MailError::Pkcs7Malformed {
            offset: octets.offset,
            what: not_octets,
        });
    }
    let econtent_type = ber.bytes(&econtent_type);
    if econtent_type != OID_DATA {
        return Ok(SignedContent::NotOpaqueSigned(NotOpaqueSigned::Other {
            content_type: dotted(econtent_type),
        }));
    }
    let mut content = Vec::new();
    ber.octets(&octets, 0, &mut content)?;
    Ok(SignedContent::Content(content))
}

/// Whether the blob announces itself as signed data (a `ContentInfo` whose
/// content type is `id-signedData`), whatever follows: a blob that does but
/// cannot be read is damaged signed data, not some other kind of file.
pub(crate) fn says_signed_data(data: &[u8]) -> bool {
    let data = binary(data);
    let ber = Ber { data: &data };
    let Ok(root) = ber.header(0) else {
        return false;
    };
    if root.tag != SEQUENCE {
        return false;
    }
    let Ok(oid) = ber.header(root.content_start) else {
        return false;
    };
    let end = oid.content_start.saturating_add(oid.len.unwrap_or(0));
    oid.tag == OID && data.get(oid.content_start..end) == Some(OID_SIGNED_DATA)
}

/// The blob as binary: as it is when it starts like BER (a SEQUENCE),
/// decoded when it is base64 or PEM text that does.
fn binary(data: &[u8]) -> Cow<'_, [u8]> {
    if data.first() == Some(&0x30) || !data.is_ascii() {
        return Cow::Borrowed(data);
    }
    let text: Vec<u8> = data
        .split(|&b| b == b'\n')
        .filter(|line| !line.trim_ascii_start().starts_with(b"-----"))
        .flat_map(|line| line.iter().copied().filter(|b| !b.is_ascii_whitespace()))
        .collect();
    match base64_decode(&text) {
        Some(decoded) if decoded.first() == Some(&0x30) => Cow::Owned(decoded),
        _ => Cow::Borrowed(data),
    }
}

/// An identifier: class (0 universal ... 3 private), constructed, number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tag {
    class: u8,
    constructed: bool,
    number: u32,
}

impl Tag {
    const fn universal(constructed: bool, number: u32) -> Tag {
        Tag {
            class: CLASS_UNIVERSAL,
            constructed,
            number,
        }
    }

    /// An OCTET STRING, primitive or in segments (constructed).
    fn is_octet_string(self) -> bool {
        self.class == CLASS_UNIVERSAL && self.number == TAG_OCTET_STRING
    }
}

/// An identifier and length, before the content is looked at.
#[derive(Debug, Clone, Copy)]
struct Header {
    tag: Tag,
    content_start: usize,
    /// `None` for the indefinite form (the content ends with `00 00`).
    len: Option<usize>,
}

/// An element whose end is known.
#[derive(Debug, Clone)]
struct Element {
    offset: usize,
    tag: Tag,
    /// The content, without an indefinite form's end-of-contents marker.
    content: Range<usize>,
    /// Where the next element starts.
    end: usize,
}

/// The reader over the whole blob (offsets in errors are into it).
struct Ber<'a> {
    data: &'a [u8],
}

impl<'a> Ber<'a> {
    fn truncated(&self, offset: usize) -> MailError {
        MailError::Pkcs7Truncated {
            offset,
            len: self.data.len(),
        }
    }

    fn byte(&self, at: usize) -> Result<u8, MailError> {
        self.data.get(at).copied().ok_or_else(|| self.truncated(at))
    }

    fn bytes(&self, element: &Element) -> &'a [u8] {
        self.data.get(element.content.clone()).unwrap_or_default()
    }

    /// The identifier and length of the element at `offset`.
    fn header(&self, offset: usize) -> Result<Header, MailError> {
        let malformed = |what| MailError::Pkcs7Malformed { offset, what };
        let first = self.byte(offset)?;
        let mut pos = offset + 1;
        let mut number = u32::from(first & 0x1F);
        if number == 0x1F {
            number = 0;
            loop {
                let b = self.byte(pos)?;
                pos += 1;
                if number >= 1 << 21 {
                    return Err(malformed("a tag number too large"));
                }
                number = (number << 7) | u32::from(b & 0x7F);
                if b & 0x80 == 0 {
                    break;
                }
            }
        }
        let tag = Tag {
            class: first >> 6,
            constructed: first & 0x20 != 0,
            number,
        };
        let len_byte = self.byte(pos)?;
        pos += 1;
        let len = match len_byte {
            0x80 if tag.constructed => None,
            0x80 => return Err(malformed("an indefinite length on a primitive element")),
            0xFF => return Err(malformed("a reserved length byte 0xff")),
            b if b < 0x80 => Some(usize::from(b)),
            b => {
                let count = usize::from(b & 0x7F);
                if count > 8 {
                    return Err(malformed("a length of more than 8 bytes"));
                }
                let mut len: u64 = 0;
                for _ in 0..count {
                    len = (len << 8) | u64::from(self.byte(pos)?);
                    pos += 1;
                }
                Some(usize::try_from(len).map_err(|_| self.truncated(pos))?)
            }
        };
        Ok(Header {
            tag,
            content_start: pos,
            len,
        })
    }

    /// The element at `offset`, which must end by `limit` (the end of the
    /// element holding it, or of the data). An indefinite length is walked
    /// to its end-of-contents marker; a definite one is only checked.
    fn element(&self, offset: usize, limit: usize, depth: usize) -> Result<Element, MailError> {
        if depth > MAX_DEPTH {
            return Err(MailError::Pkcs7TooDeep {
                max: MAX_DEPTH,
                offset,
            });
        }
        if offset >= limit {
            return Err(self.overrun(offset, limit));
        }
        // An end-of-contents marker (`00 00`) is never an element; a lone
        // `00` at the end is half of one, cut short.
        if self.byte(offset)? == 0 && self.byte(offset + 1).is_ok() {
            return Err(MailError::Pkcs7Malformed {
                offset,
                what: "an end-of-contents marker where an element was expected",
            });
        }
        let header = self.header(offset)?;
        if header.content_start > limit {
            return Err(self.overrun(offset, limit));
        }
        match header.len {
            Some(len) => {
                let end = header
                    .content_start
                    .checked_add(len)
                    .filter(|&end| end <= limit)
                    .ok_or_else(|| self.overrun(offset, limit))?;
                Ok(Element {
                    offset,
                    tag: header.tag,
                    content: header.content_start..end,
                    end,
                })
            }
            None => {
                let mut pos = header.content_start;
                loop {
                    let marker_end = pos.saturating_add(2);
                    if marker_end <= limit && self.data.get(pos..marker_end) == Some(&[0, 0]) {
                        return Ok(Element {
                            offset,
                            tag: header.tag,
                            content: header.content_start..pos,
                            end: marker_end,
                        });
                    }
                    pos = self.element(pos, limit, depth + 1)?.end;
                }
            }
        }
    }

    /// An element running past `limit`: the data is cut short when the
    /// limit is its end, else the element does not fit the one holding it.
    fn overrun(&self, offset: usize, limit: usize) -> MailError {
        if limit >= self.data.len() {
            self.truncated(offset)
        } else {
            MailError::Pkcs7Malformed {
                offset,
                what: "an element runs past the end of the one holding it",
            }
        }
    }

    fn children<'b>(&'b self, parent: &Element, depth: usize) -> Children<'a, 'b> {
        Children {
            ber: self,
            pos: parent.content.start,
            end: parent.content.end,
            depth,
        }
    }

    fn require(&self, element: &Element, tag: Tag, what: &'static str) -> Result<(), MailError> {
        if element.tag == tag {
            Ok(())
        } else {
            Err(MailError::Pkcs7Malformed {
                offset: element.offset,
                what,
            })
        }
    }

    /// Appends an OCTET STRING's bytes: its content when primitive, its
    /// segments' in order when constructed.
    fn octets(
        &self,
        element: &Element,
        nesting: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), MailError> {
        if !element.tag.constructed {
            out.extend_from_slice(self.bytes(element));
            return Ok(());
        }
        if nesting >= MAX_SEGMENT_DEPTH {
            return Err(MailError::Pkcs7TooDeep {
                max: MAX_SEGMENT_DEPTH,
                offset: element.offset,
            });
        }
        let mut segments = self.children(element, 6 + nesting);
        while let Some(segment) = segments.next_element()? {
            if !segment.tag.is_octet_string() {
                return Err(MailError::Pkcs7Malformed {
                    offset: segment.offset,
                    what: "a segment of the content is not an octet string",
                });
            }
            self.octets(&segment, nesting + 1, out)?;
        }
        Ok(())
    }
}

/// The elements inside a constructed element, in order.
struct Children<'a, 'b> {
    ber: &'b Ber<'a>,
    pos: usize,
    end: usize,
    depth: usize,
}

impl Children<'_, '_> {
    fn next_element(&mut self) -> Result<Option<Element>, MailError> {
        if self.pos >= self.end {
            return Ok(None);
        }
        let element = self.ber.element(self.pos, self.end, self.depth)?;
        self.pos = element.end;
        Ok(Some(element))
    }

    /// The next element, which must have this identifier.
    fn require(&mut self, tag: Tag, what: &'static str) -> Result<Element, MailError> {
        let element = self.next_or(what)?;
        self.ber.require(&element, tag, what)?;
        Ok(element)
    }

    /// The next element; an error saying `what` when there is none.
    fn next_or(&mut self, what: &'static str) -> Result<Element, MailError> {
        let offset = self.pos;
        self.next_element()?
            .ok_or(MailError::Pkcs7Malformed { offset, what })
    }
}

/// An OBJECT IDENTIFIER's content as dotted decimal (at most
/// [`MAX_OID_CHARS`] characters; `?` for an arc that does not fit 64 bits).
fn dotted(content: &[u8]) -> String {
    let mut arcs: Vec<String> = Vec::new();
    let mut value: u64 = 0;
    let mut overflow = false;
    for &b in content {
        overflow |= value > u64::MAX >> 7;
        value = (value << 7) | u64::from(b & 0x7F);
        if b & 0x80 != 0 {
            continue;
        }
        if overflow {
            arcs.push("?".to_string());
        } else if arcs.is_empty() {
            let first = (value / 40).min(2);
            arcs.push(first.to_string());
            arcs.push((value - first * 40).to_string());
        } else {
            arcs.push(value.to_string());
        }
        value = 0;
        overflow = false;
    }
    let mut out = arcs.join(".");
    if out.len() > MAX_OID_CHARS {
        out.truncate(MAX_OID_CHARS);
        out.push('…');
    }
    out
}

#[cfg(test)]
#[path = "smime_test.rs"]
pub(crate) mod tests;
