//! A mail-enabled library's settings ([`LibrarySettings`]: its address,
//! kind, where attachments go, its limits) and the limits check: whether a
//! message of a given size, with attachments of given sizes, may be filed in
//! it (pure; refused messages are quarantined for the library, never
//! truncated).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::policy::AcceptFrom;
use crate::units::ByteSize;

/// An email-enabled library and its incoming e-mail settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LibrarySettings {
    /// Display name, e.g. `Shared Documents`.
    pub name: String,
    /// Local part of the library's address; unique in the farm, at most 128 characters.
    pub alias: String,
    #[serde(default)]
    pub kind: LibraryKind,
    /// A disabled library's mail is quarantined.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    #[serde(default)]
    pub attachment_folders: AttachmentFolders,
    /// Replace a file of the same name instead of adding ` (1)`.
    #[serde(default)]
    pub overwrite_existing: bool,
    /// Also save the whole message as an `.eml` file.
    #[serde(default)]
    pub save_original: bool,
    /// Folder of the library; `<data_dir>/libraries/<alias>` when unset; relative to data_dir.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Largest message this library takes (its recipients' copy of a larger
    /// one is quarantined, never truncated); unset: the farm's limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_message_size: Option<ByteSize>,
    /// Largest attachment this library takes (a message with a larger one is
    /// quarantined for this library, never filed truncated); unset: any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attachment_size: Option<ByteSize>,
    /// Also file meeting invitations (`text/calendar` parts, `.ics`);
    /// SharePoint's "save meeting invitations". Off: they are not filed.
    #[serde(default = "enabled_by_default")]
    pub save_meeting_invitations: bool,
    /// Besides an attached message (saved as `.eml`), also file the
    /// attachments inside it.
    #[serde(default)]
    pub expand_attached_messages: bool,
    /// Who may post: `anyone`, or authenticated `members`.
    #[serde(default)]
    pub accept_from: AcceptFrom,
    /// With `accept_from = "members"`: addresses (`alice@contoso.com`) and
    /// domains (`@contoso.com` or `contoso.com`) that may post.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
}

fn enabled_by_default() -> bool {
    true
}

impl LibrarySettings {
    /// A document library with SharePoint's default settings.
    pub fn document_library(name: &str, alias: &str) -> Self {
        LibrarySettings {
            name: name.to_string(),
            alias: alias.to_string(),
            kind: LibraryKind::DocumentLibrary,
            enabled: true,
            attachment_folders: AttachmentFolders::Root,
            overwrite_existing: false,
            save_original: false,
            path: None,
            max_message_size: None,
            max_attachment_size: None,
            save_meeting_invitations: true,
            expand_attached_messages: false,
            accept_from: AcceptFrom::Anyone,
            members: Vec::new(),
        }
    }

    /// The library's folder on this node, given its data dir.
    pub fn resolved_path(&self, data_dir: &Path) -> PathBuf {
        match &self.path {
            Some(p) => data_dir.join(p),
            None => data_dir.join("libraries").join(&self.alias),
        }
    }
}

/// What kind of list a library is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LibraryKind {
    /// Attachments as files.
    #[default]
    DocumentLibrary,
    /// Attachments as files, images only (other attachments are not filed).
    PictureLibrary,
    /// Attachments as files (InfoPath forms are XML attachments).
    FormLibrary,
    /// An item per message: title = subject, the (sanitised) body,
    /// attachments attached to the item.
    Announcements,
    /// Events from `text/calendar` invitations, keyed on their `UID`;
    /// other mail is quarantined.
    Calendar,
    /// A post per message, threaded by conversation.
    DiscussionBoard,
    /// A post per message, inline images kept and referenced.
    Blog,
}

impl LibraryKind {
    /// Every kind, as written in the config.
    pub const NAMES: &'static str = "document_library, picture_library, form_library, announcements, calendar, discussion_board, blog";

    /// A list whose items are records with fields and attachments, each
    /// item's files in a folder of its own (not a library of files).
    pub fn is_list(self) -> bool {
        matches!(
            self,
            LibraryKind::Announcements
                | LibraryKind::Calendar
                | LibraryKind::DiscussionBoard
                | LibraryKind::Blog
        )
    }
}

/// Where a document library puts a message's attachments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentFolders {
    /// All in the library's root folder.
    #[default]
    Root,
    /// One folder per e-mail subject.
    Subject,
    /// One folder per sender.
    Sender,
}

impl LibrarySettings {
    /// Whether an attachment of this MIME type and file name is filed in
    /// this library (a picture library keeps images; meeting invitations
    /// only with `save_meeting_invitations`); `Err` says why not, for the log.
    pub fn files_attachment(
        &self,
        content_type: &str,
        file_name: &str,
    ) -> Result<(), &'static str> {
        let lower = file_name.to_ascii_lowercase();
        let invitation = content_type == "text/calendar" || lower.ends_with(".ics");
        if invitation && !self.save_meeting_invitations {
            return Err(
                "meeting invitations are not saved in this library (save_meeting_invitations)",
            );
        }
        if self.kind == LibraryKind::PictureLibrary && !is_image(content_type, &lower) {
            return Err("a picture library keeps images only");
        }
        Ok(())
    }

    /// Why a message of `message_len` bytes with attachments `(name, len)`
    /// may not be filed in this library, with a code for machines; `None`
    /// when it may.
    pub fn refuses(
        &self,
        message_len: u64,
        attachments: &[(&str, u64)],
    ) -> Option<(&'static str, String)> {
        if let Some(max) = self.max_message_size.filter(|m| message_len > m.0) {
            return Some((
                "too_large",
                format!(
                    "library {:?}: the message ({message_len} bytes) is larger than its max_message_size ({max})",
                    self.alias
                ),
            ));
        }
        let max = self.max_attachment_size?;
        let (name, len) = attachments.iter().find(|(_, len)| *len > max.0)?;
        Some((
            "attachment_too_large",
            format!(
                "library {:?}: attachment {name:?} ({len} bytes) is larger than its max_attachment_size ({max}); it is not filed truncated",
                self.alias
            ),
        ))
    }
}

/// An image by its type, or (for `application/octet-stream` and the like)
/// by its extension.
fn is_image(content_type: &str, lower_name: &str) -> bool {
    const EXTENSIONS: [&str; 12] = [
        ".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".heic", ".svg", ".ico",
        ".jfif",
    ];
    content_type.starts_with("image/") || EXTENSIONS.iter().any(|e| lower_name.ends_with(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picture_libraries_keep_images_and_invitations_follow_the_setting() {
        let mut lib = LibrarySettings::document_library("Docs", "docs");
        assert_eq!(lib.files_attachment("application/pdf", "a.pdf"), Ok(()));
        assert_eq!(lib.files_attachment("text/calendar", "invite.ics"), Ok(()));
        lib.save_meeting_invitations = false;
        assert!(lib.files_attachment("text/calendar", "invite.ics").is_err());
        assert!(lib
            .files_attachment("application/octet-stream", "Invite.ICS")
            .is_err());
        lib.kind = LibraryKind::PictureLibrary;
        assert_eq!(lib.files_attachment("image/png", "a.png"), Ok(()));
        assert_eq!(
            lib.files_attachment("application/octet-stream", "photo.JPG"),
            Ok(())
        );
        assert_eq!(
            lib.files_attachment("application/pdf", "a.pdf"),
            Err("a picture library keeps images only")
        );
    }

    #[test]
    fn limits_name_the_library_the_size_and_the_limit() {
        let mut lib = LibrarySettings::document_library("Docs", "docs");
        assert_eq!(lib.refuses(u64::MAX, &[("a.bin", u64::MAX)]), None);
        lib.max_message_size = Some(ByteSize(1000));
        lib.max_attachment_size = Some(ByteSize(100));
        let (code, why) = lib.refuses(1001, &[]).unwrap();
        assert_eq!(code, "too_large");
        assert!(
            why.contains("(1001 bytes) is larger than its max_message_size"),
            "{why}"
        );
        let (code, why) = lib.refuses(900, &[("a.txt", 10), ("b.pdf", 101)]).unwrap();
        assert_eq!(code, "attachment_too_large");
        assert!(
            why.contains("attachment \"b.pdf\" (101 bytes)") && why.contains("not filed truncated"),
            "{why}"
        );
        assert_eq!(lib.refuses(1000, &[("a.txt", 100)]), None);
    }
}
