//! TNEF (`application/ms-tnef`, Outlook's `winmail.dat`): the attachments
//! inside, with their names and bytes, so users get their files rather than
//! an opaque `winmail.dat`.
//!
//! The stream is a signature (`0x223E9F78`), a key, then attributes: level
//! (1 = message, 2 = attachment), id (type << 16 | tag), length, data and a
//! checksum (the sum of the data bytes, mod 2^16). `attAttachRenddata`
//! starts an attachment; `attAttachTitle` names it (often an 8.3 name),
//! `attAttachData` holds its bytes, and `attAttachment` holds MAPI
//! properties, among them the long file name (`PR_ATTACH_LONG_FILENAME`),
//! which wins over the title, and for some writers the bytes
//! (`PR_ATTACH_DATA_OBJ`). Bytes after the last attribute that do not make
//! one are ignored (some writers pad). Pure: bytes in, files out.

const SIGNATURE: u32 = 0x223E_9F78;
const LEVEL_ATTACHMENT: u8 = 2;
const ATT_ATTACH_DATA: u16 = 0x800F;
const ATT_ATTACH_TITLE: u16 = 0x8010;
const ATT_ATTACH_RENDDATA: u16 = 0x9002;
const ATT_ATTACHMENT: u16 = 0x9005;

const PR_DISPLAY_NAME: u16 = 0x3001;
const PR_ATTACH_DATA_OBJ: u16 = 0x3701;
const PR_ATTACH_FILENAME: u16 = 0x3704;
const PR_ATTACH_LONG_FILENAME: u16 = 0x3707;

/// A file found in a TNEF stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TnefFile {
    /// The best name the stream gives (long file name, else title, else
    /// display name); may be empty: the caller names it.
    pub name: String,
    pub data: Vec<u8>,
}

/// What is wrong with a TNEF stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TnefError {
    #[error("tnef: not a tnef stream (signature {found:#010x}, expected 0x223e9f78)")]
    Signature { found: u32 },
    #[error("tnef: the stream ends inside an attribute at byte {offset} ({len} bytes in all)")]
    Truncated { offset: usize, len: usize },
    #[error("tnef: attachment {number} ({name:?}) has no data: the stream may be cut short")]
    NoData { number: usize, name: String },
    #[error(
        "tnef: attribute {id:#06x} at byte {offset}: checksum {found:#06x}, expected {expected:#06x}"
    )]
    Checksum {
        id: u16,
        offset: usize,
        expected: u16,
        found: u16,
    },
}

/// A little-endian reader over a byte slice that never reads past its end.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let out = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }
    fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_le_bytes([*b.first()?, *b.get(1)?]))
    }
    fn u32(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_le_bytes([
            *b.first()?,
            *b.get(1)?,
            *b.get(2)?,
            *b.get(3)?,
        ]))
    }
    fn len(&mut self) -> Option<usize> {
        usize::try_from(self.u32()?).ok()
    }
    /// Skip to the next multiple of 4 from `start`.
    fn align(&mut self, start: usize) {
        let used = self.pos.saturating_sub(start);
        self.pos = self.pos.saturating_add((4 - used % 4) % 4);
    }
}

#[derive(Default)]
struct Building {
    title: Option<String>,
    data: Option<Vec<u8>>,
    props: MapiNames,
}

impl Building {
    fn finish(self, number: usize) -> Result<TnefFile, TnefError> {
        if self.data.is_none() && self.props.data.is_none() {
            let name = self.title.or(self.props.long_name).unwrap_or_default();
            return Err(TnefError::NoData { number, name });
        }
        let name = [
            self.props.long_name,
            self.title,
            self.props.short_name,
            self.props.display_name,
        ]
        .into_iter()
        .flatten()
        .map(|n| n.trim().to_string())
        .find(|n| !n.is_empty())
        .unwrap_or_default();
        Ok(TnefFile {
            name,
            data: self.data.or(self.props.data).unwrap_or_default(),
        })
    }
}

/// The attachments in a TNEF stream, in order. Message-level attributes
/// (body, RTF, recipients) are skipped.
pub fn tnef_files(bytes: &[u8]) -> Result<Vec<TnefFile>, TnefError> {
    let mut r = Reader { bytes, pos: 0 };
    let signature = r.u32().ok_or(TnefError::Truncated {
        offset: 0,
        len: bytes.len(),
    })?;
    if signature != SIGNATURE {
        return Err(TnefError::Signature { found: signature });
    }
    r.u16().ok_or(TnefError::Truncated {
        offset: 4,
        len: bytes.len(),
    })?;
    let mut files = Vec::new();
    let mut current: Option<Building> = None;
    while r.pos < bytes.len() {
        let offset = r.pos;
        let truncated = TnefError::Truncated {
            offset,
            len: bytes.len(),
        };
        let header = (|| Some((r.u8()?, r.u32()?, r.len()?)))();
        let Some((level, id, len)) = header else {
            // Fewer bytes than an attribute header: trailing padding.
            break;
        };
        let data = r.take(len).ok_or(truncated.clone())?;
        let checksum = r.u16().ok_or(truncated)?;
        let tag = (id & 0xFFFF) as u16;
        let sum = data.iter().fold(0u16, |s, b| s.wrapping_add(u16::from(*b)));
        if sum != checksum {
            return Err(TnefError::Checksum {
                id: tag,
                offset,
                expected: sum,
                found: checksum,
            });
        }
        if level != LEVEL_ATTACHMENT {
            continue;
        }
        match tag {
            ATT_ATTACH_RENDDATA => {
                if let Some(done) = current.replace(Building::default()) {
                    files.push(done.finish(files.len() + 1)?);
                }
            }
            ATT_ATTACH_TITLE => current.get_or_insert_default().title = Some(c_string(data)),
            ATT_ATTACH_DATA => current.get_or_insert_default().data = Some(data.to_vec()),
            ATT_ATTACHMENT => current.get_or_insert_default().props = mapi_names(data),
            _ => {}
        }
    }
    if let Some(done) = current {
        files.push(done.finish(files.len() + 1)?);
    }
    Ok(files)
}

/// A zero-terminated 8-bit string (Windows-1252 in practice; bytes above
/// 0x7F are read as Latin-1, which matches it for letters).
fn c_string(data: &[u8]) -> String {
    let end = data.iter().position(|b| *b == 0).unwrap_or(data.len());
    data.get(..end)
        .unwrap_or_default()
        .iter()
        .map(|b| char::from(*b))
        .collect()
}

fn utf16_string(data: &[u8]) -> String {
    let units: Vec<u16> = data
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|u| *u != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

/// The names (and object data) among an attachment's MAPI properties.
#[derive(Default)]
struct MapiNames {
    long_name: Option<String>,
    short_name: Option<String>,
    display_name: Option<String>,
    data: Option<Vec<u8>>,
}

/// Read the MAPI property list of `attAttachment`, keeping the names and
/// the data object. A list that cannot be read to its end keeps what was
/// read before (names are a convenience; the title still names the file).
fn mapi_names(data: &[u8]) -> MapiNames {
    let mut names = MapiNames::default();
    let mut r = Reader {
        bytes: data,
        pos: 0,
    };
    let Some(count) = r.u32() else {
        return names;
    };
    for _ in 0..count {
        let Some(()) = (|| {
            let kind = r.u16()?;
            let tag = r.u16()?;
            if tag >= 0x8000 {
                // A named property: GUID, then an id or a UTF-16 name.
                r.take(16)?;
                if r.u32()? == 0 {
                    r.u32()?;
                } else {
                    let n = r.len()?;
                    let start = r.pos;
                    r.take(n)?;
                    r.align(start);
                }
            }
            let multi = kind & 0x1000 != 0;
            let base = kind & !0x1000;
            let values = if multi || matches!(base, 0x1E | 0x1F | 0x102 | 0x0D) {
                r.u32()?
            } else {
                1
            };
            // Every value takes at least 4 bytes (a null takes none: one is
            // enough): a count beyond what is left is a lie, not a loop.
            let left = r.bytes.len().saturating_sub(r.pos) as u64;
            if base == 0x01 && values > 1 || u64::from(values) > left / 4 + 1 {
                return None;
            }
            for _ in 0..values {
                let value = read_value(&mut r, base)?;
                match (tag, value) {
                    (PR_ATTACH_LONG_FILENAME, Value::Text(t)) => names.long_name = Some(t),
                    (PR_ATTACH_FILENAME, Value::Text(t)) => names.short_name = Some(t),
                    (PR_DISPLAY_NAME, Value::Text(t)) => names.display_name = Some(t),
                    (PR_ATTACH_DATA_OBJ, Value::Bytes(b)) => {
                        // An object (PT_OBJECT) starts with its 16-byte interface id.
                        let skip = if base == 0x0D { 16 } else { 0 };
                        names.data = Some(b.get(skip..).unwrap_or_default().to_vec());
                    }
                    _ => {}
                }
            }
            Some(())
        })() else {
            break;
        };
    }
    names
}

enum Value {
    Text(String),
    Bytes(Vec<u8>),
    Other,
}

/// One value of MAPI type `base` (multi-value flag removed).
fn read_value(r: &mut Reader<'_>, base: u16) -> Option<Value> {
    let fixed = match base {
        0x02 | 0x03 | 0x04 | 0x0A | 0x0B => 4, // short (padded), long, float, error, boolean (padded)
        0x05 | 0x06 | 0x07 | 0x14 | 0x40 => 8, // double, currency, apptime, i8, systime
        0x48 => 16,                            // clsid
        0x01 => 0,                             // null
        _ => {
            let n = r.len()?;
            let start = r.pos;
            let bytes = r.take(n)?;
            r.align(start);
            return Some(match base {
                0x1E => Value::Text(c_string(bytes)),
                0x1F => Value::Text(utf16_string(bytes)),
                _ => Value::Bytes(bytes.to_vec()),
            });
        }
    };
    r.take(fixed)?;
    Some(Value::Other)
}

#[cfg(test)]
#[path = "tnef_test.rs"]
mod tests;
