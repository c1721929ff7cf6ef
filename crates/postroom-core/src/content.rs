//! The bytes of a file to write, as the parser hands them to the library
//! store: [`FileBytes`], a known length and the bytes produced in pieces, so
//! that a large decoded attachment never has to sit in memory whole (it is
//! decoded from the raw message as it is written or compared). Pure: no
//! files here, only the hand-over between the two crates.

use std::io;

/// Bytes of known length, handed out in order in pieces of any size.
///
/// Every call to [`FileBytes::pieces`] produces the same bytes: the store
/// writes them once and may read them again to tell whether a file already
/// holds them.
pub trait FileBytes {
    /// How many bytes [`FileBytes::pieces`] produces.
    fn byte_len(&self) -> u64;

    /// Hand every byte, in order, to `sink`; stop at (and return) the first
    /// error `sink` returns.
    fn pieces(&self, sink: &mut dyn FnMut(&[u8]) -> io::Result<()>) -> io::Result<()>;
}

impl FileBytes for [u8] {
    fn byte_len(&self) -> u64 {
        self.len() as u64
    }

    fn pieces(&self, sink: &mut dyn FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        sink(self)
    }
}

impl FileBytes for Vec<u8> {
    fn byte_len(&self) -> u64 {
        self.as_slice().byte_len()
    }

    fn pieces(&self, sink: &mut dyn FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        self.as_slice().pieces(sink)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slice_is_one_piece_and_errors_pass_through() {
        let bytes = b"abc".to_vec();
        let mut seen = Vec::new();
        bytes
            .pieces(&mut |p| {
                seen.extend_from_slice(p);
                Ok(())
            })
            .unwrap();
        assert_eq!(seen, b"abc");
        assert_eq!(bytes.byte_len(), 3);
        let err = bytes
            .pieces(&mut |_| Err(io::Error::other("full")))
            .unwrap_err();
        assert_eq!(err.to_string(), "full");
    }
}
