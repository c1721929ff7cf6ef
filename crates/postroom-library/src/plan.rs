//! Choosing names: planning a new item's free names (each made safe,
//! repeats numbered, names taken on disk or earlier in the batch skipped) and
//! moving a file into place without replacing anyone else's (walking the
//! name's ` (n)` sequence, adopting a name that already holds our bytes).

use std::collections::{HashMap, HashSet};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use postroom_core::config::{AttachmentFolders, LibrarySettings};
use postroom_core::MessageKey;

use crate::durable::{self, Existing};
use crate::item::{join_planned, FileContent, ItemToFile};
use crate::names::candidates;
use crate::store::Dirs;
use crate::LibraryError;
use postroom_core::names::{fit_name, safe_component};

/// How many numbered variants of a name to try before giving up.
const MAX_NAME_TRIES: usize = 10_000;
/// Folder handles kept open during a batch before the cache is emptied.
const MAX_OPEN_FOLDERS: usize = 64;

/// Folder handles, opened (and created) on first use.
pub(crate) struct Folders {
    pub(crate) open: HashMap<String, OwnedFd>,
}

impl Folders {
    pub(crate) fn get<'d>(
        &'d mut self,
        dirs: &'d Dirs,
        folder: Option<&str>,
    ) -> Result<BorrowedFd<'d>, LibraryError> {
        let Some(folder) = folder else {
            return Ok(dirs.root.as_fd());
        };
        if !self.open.contains_key(folder) {
            if self.open.len() >= MAX_OPEN_FOLDERS {
                self.open.clear();
            }
            let fd = durable::ensure_subdir(dirs.root.as_fd(), folder)
                .map_err(|e| LibraryError::io("create folder", dirs.root_path.join(folder), e))?;
            self.open.insert(folder.to_string(), fd);
        }
        match self.open.get(folder) {
            Some(fd) => Ok(fd.as_fd()),
            None => Err(LibraryError::io(
                "open folder",
                dirs.root_path.join(folder),
                std::io::Error::from(std::io::ErrorKind::NotFound),
            )),
        }
    }
}

/// Names planned by earlier items of this batch, and for each name sequence
/// (folder, first name) how many of its names are known to be taken.
#[derive(Default)]
pub(crate) struct Reserved {
    pub(crate) names: HashSet<(String, String)>,
    cursors: HashMap<(String, String), usize>,
}

/// The item's folder under the library root: a list item's own folder, or
/// by the library's setting.
fn item_folder(settings: &LibrarySettings, item: &ItemToFile<'_>) -> Option<String> {
    let meta = &item.meta;
    if settings.kind.is_list() {
        return Some(list_item_folder(&meta.message_key));
    }
    match settings.attachment_folders {
        AttachmentFolders::Root => None,
        AttachmentFolders::Subject => Some(safe_component(
            meta.headers.subject.as_deref().unwrap_or(""),
            "(no subject)",
        )),
        AttachmentFolders::Sender => {
            let sender = non_empty(meta.headers.from_address.as_deref())
                .or_else(|| non_empty(Some(meta.envelope_sender.as_str())))
                .unwrap_or("");
            Some(safe_component(sender, "unknown sender"))
        }
    }
}

/// The folder of a list item's files (attachments, inline images, the
/// original): named after its message key, like SharePoint's
/// `Attachments/<item id>`.
pub fn list_item_folder(key: &MessageKey) -> String {
    key.short()
}

/// The names a list item's files get in its own (new, empty) folder: each
/// made safe, repeats numbered ` (1)`, ` (2)` ... case-insensitively, the
/// way [`plan_new`] plans them; so a body can reference a file before it is
/// filed.
pub fn list_item_names<'n>(names: impl IntoIterator<Item = &'n str>) -> Vec<String> {
    let mut own: HashSet<String> = HashSet::new();
    names
        .into_iter()
        .map(|raw| {
            let base = safe_component(raw, "attachment");
            let free = candidates(&base)
                .take(MAX_NAME_TRIES)
                .find(|c| !own.contains(&c.to_lowercase()));
            let name = free.unwrap_or_else(|| base.clone());
            own.insert(name.to_lowercase());
            name
        })
        .collect()
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.trim().is_empty())
}

/// Plan free names for a new item: each name made safe, repeated names
/// within the item numbered, names taken on disk or by an earlier item of
/// this batch skipped (unless `overwrite_existing`).
pub(crate) fn plan_new(
    dirs: &Dirs,
    folders: &mut Folders,
    settings: &LibrarySettings,
    reserved: &mut Reserved,
    item: &ItemToFile<'_>,
) -> Result<Vec<String>, LibraryError> {
    let folder = item_folder(settings, item);
    let folder_fd = folders.get(dirs, folder.as_deref())?;
    let folder_path = folder
        .as_ref()
        .map_or(dirs.root_path.clone(), |f| dirs.root_path.join(f));
    let folder_lc = folder.as_deref().unwrap_or("").to_lowercase();
    let mut wanted: Vec<String> = item
        .attachments
        .iter()
        .map(|a| safe_component(a.name, "attachment"))
        .collect();
    if settings.save_original {
        let meta = &item.meta;
        let id = meta
            .headers
            .message_id
            .as_deref()
            .map(|id| id.trim().trim_matches(['<', '>']));
        let stem = non_empty(meta.headers.subject.as_deref())
            .or(non_empty(id))
            .map(str::to_string);
        let stem = safe_component(&stem.unwrap_or_else(|| meta.message_key.short()), "message");
        wanted.push(fit_name(&stem, 0, "eml"));
    }
    let mut own: HashSet<String> = HashSet::new();
    let mut files = Vec::with_capacity(wanted.len());
    for base in wanted {
        let mut chosen = None;
        let sequence = (folder_lc.clone(), base.to_lowercase());
        // Names before the cursor were taken or planned earlier in this batch.
        let skip = if settings.overwrite_existing {
            0
        } else {
            reserved.cursors.get(&sequence).copied().unwrap_or(0)
        };
        for (n, cand) in candidates(&base)
            .enumerate()
            .take(MAX_NAME_TRIES)
            .skip(skip)
        {
            let lc = cand.to_lowercase();
            if own.contains(&lc) {
                continue;
            }
            if !settings.overwrite_existing {
                if reserved.names.contains(&(folder_lc.clone(), lc.clone())) {
                    continue;
                }
                let taken = durable::exists_at(folder_fd, &cand)
                    .map_err(|e| LibraryError::io("look up", folder_path.join(&cand), e))?;
                if taken {
                    continue;
                }
            }
            own.insert(lc);
            reserved.cursors.insert(sequence.clone(), n + 1);
            chosen = Some(cand);
            break;
        }
        let Some(name) = chosen else {
            return Err(LibraryError::NoFreeName {
                folder: folder_path,
                name: base,
            });
        };
        files.push(join_planned(folder.as_deref(), &name));
    }
    Ok(files)
}

/// Where a temporary file is and which folder it goes to.
pub(crate) struct Spot<'s> {
    pub(crate) tmp_dir: BorrowedFd<'s>,
    pub(crate) tmp: &'s str,
    pub(crate) dir: BorrowedFd<'s>,
    pub(crate) dir_path: &'s Path,
}

/// Move one temporary file to `planned` or the first later name in its
/// sequence that is free or already holds these bytes. `Ok(None)`: the
/// temporary file is gone (another worker finished the item).
pub(crate) fn place(
    spot: &Spot<'_>,
    planned: &str,
    skip: &HashSet<String>,
    content: FileContent<'_>,
    overwrite: bool,
) -> Result<Option<String>, LibraryError> {
    let io_err =
        |name: &str, e| LibraryError::io("move file into place at", spot.dir_path.join(name), e);
    if overwrite {
        return match durable::rename_replace(spot.tmp_dir, spot.tmp, spot.dir, planned) {
            Ok(()) => Ok(Some(planned.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(planned, e)),
        };
    }
    let mut names = candidates(planned);
    let mut current = names.next();
    let mut tries = 0;
    while let Some(cand) = current.clone() {
        tries += 1;
        if tries > MAX_NAME_TRIES {
            break;
        }
        if cand != planned && skip.contains(&cand.to_lowercase()) {
            current = names.next();
            continue;
        }
        match durable::rename_noreplace(spot.tmp_dir, spot.tmp, spot.dir, &cand) {
            Ok(true) => return Ok(Some(cand)),
            Ok(false) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(&cand, e)),
        }
        match durable::compare_at(spot.dir, &cand, content).map_err(|e| io_err(&cand, e))? {
            Existing::Same => {
                // Ours: put there by an earlier attempt or a concurrent worker.
                durable::remove_at(spot.tmp_dir, spot.tmp).map_err(|e| io_err(&cand, e))?;
                return Ok(Some(cand));
            }
            Existing::Different => current = names.next(),
            Existing::Missing => {} // removed since: try the same name again
        }
    }
    Err(LibraryError::NoFreeName {
        folder: spot.dir_path.to_path_buf(),
        name: planned.to_string(),
    })
}
