//! postroom-library: filing messages into libraries (folders), exactly once.
//!
//! A [`Library`] is a folder: attachments (and, if configured, the original
//! `.eml`) land in it, at its root or in a folder per subject or sender, and
//! a hidden `.postroom/items/<message key>.json` record per message makes
//! filing idempotent on the message key across calls, processes and crashes
//! (see `batch.rs` for the scheme and its crash argument). [`Library::file_batch`]
//! files many messages with a handful of filesystem barriers for the whole
//! batch; an `Ok` result means the item is on disk.
//!
//! The [`Quarantine`] keeps what could not be filed, each message with a
//! reason file, durably.
//!
//! Blocking IO throughout: async callers run it in `spawn_blocking`.

mod batch;
mod clock;
mod durable;
mod error;
mod item;
mod names;
mod plan;
mod quarantine;
mod quarantine_admin;
mod store;

#[cfg(test)]
mod tests;

pub use error::LibraryError;
pub use item::{
    FileContent, FileOutcome, FileToWrite, ItemMetadata, ItemRecord, ItemState, ItemToFile,
};
pub use plan::{list_item_folder, list_item_names};
pub use quarantine::{Quarantine, QuarantineEntry, QuarantineReason};
pub use store::{read_item, read_items, Library};
