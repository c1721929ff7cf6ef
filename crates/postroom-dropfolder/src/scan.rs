//! One blocking pass over the drop folder: `read_dir` plus per-file
//! metadata, without descending into sub-directories or following symlinks.
//! Run it on a blocking thread; on NFS every call may block.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use tracing::debug;

use crate::names::is_candidate_name;
use crate::tracker::Observed;
use crate::DropFolderError;

/// What one scan found.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// Regular files with candidate names.
    pub files: Vec<Observed>,
    /// Candidate entries whose metadata could not be read this time (other
    /// than vanishing); their state should be left alone.
    pub unreadable: Vec<PathBuf>,
    /// Identity of the folder itself (device, inode) where the platform has
    /// one; it changes when the folder is deleted and re-created.
    pub folder_id: Option<(u64, u64)>,
}

/// List the regular, candidate-named files directly in `dir`.
///
/// Fails if the folder itself cannot be read, or the listing breaks off
/// half-way (a partial listing would make present files look deleted).
pub(crate) fn scan_folder(dir: &Path) -> Result<Listing, DropFolderError> {
    let read_err = |source| DropFolderError::ReadFolder {
        path: dir.to_path_buf(),
        source,
    };
    let meta = fs::metadata(dir).map_err(read_err)?;
    if !meta.is_dir() {
        return Err(DropFolderError::NotADirectory {
            path: dir.to_path_buf(),
        });
    }
    let mut listing = Listing {
        folder_id: folder_identity(&meta),
        ..Listing::default()
    };
    for entry in fs::read_dir(dir).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        if !is_candidate_name(&entry.file_name()) {
            continue;
        }
        let path = entry.path();
        // `file_type` and `metadata` do not follow symlinks.
        match entry.file_type() {
            Ok(t) if !t.is_file() => continue,
            Ok(_) => {}
            Err(e) => {
                note_unreadable(&mut listing, path, &e);
                continue;
            }
        }
        match entry.metadata() {
            Ok(m) if m.is_file() => listing.files.push(Observed {
                path,
                size: m.len(),
                modified: m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            }),
            Ok(_) => {}
            Err(e) => note_unreadable(&mut listing, path, &e),
        }
    }
    Ok(listing)
}

fn note_unreadable(listing: &mut Listing, path: PathBuf, e: &std::io::Error) {
    if e.kind() == ErrorKind::NotFound {
        // Removed between read_dir and stat: simply gone.
        return;
    }
    debug!(file = %path.display(), error = %e, "cannot read drop file metadata");
    listing.unreadable.push(path);
}

#[cfg(unix)]
fn folder_identity(meta: &fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn folder_identity(_meta: &fs::Metadata) -> Option<(u64, u64)> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_regular_candidate_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(d.join("a.eml"), b"hello").unwrap();
        fs::write(d.join("b"), b"").unwrap();
        fs::write(d.join("c.tmp"), b"x").unwrap();
        fs::write(d.join(".hidden"), b"x").unwrap();
        fs::create_dir(d.join("sub")).unwrap();
        fs::write(d.join("sub").join("inner.eml"), b"x").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(d.join("a.eml"), d.join("link.eml")).unwrap();

        let listing = scan_folder(d).unwrap();
        let mut got: Vec<(String, u64)> = listing
            .files
            .iter()
            .map(|f| {
                (
                    f.path.file_name().unwrap().to_string_lossy().into_owned(),
                    f.size,
                )
            })
            .collect();
        got.sort();
        assert_eq!(got, [("a.eml".to_string(), 5), ("b".to_string(), 0)]);
        assert!(listing.unreadable.is_empty());
        assert_eq!(listing.files[0].path.parent(), Some(d));
        #[cfg(unix)]
        assert!(listing.folder_id.is_some());
    }

    #[test]
    fn a_missing_folder_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let err = scan_folder(&missing).unwrap_err();
        assert!(matches!(err, DropFolderError::ReadFolder { .. }));
        assert!(err.to_string().contains(&missing.display().to_string()));
    }

    #[test]
    fn a_file_is_not_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        fs::write(&f, b"x").unwrap();
        let err = scan_folder(&f).unwrap_err();
        assert!(matches!(err, DropFolderError::NotADirectory { .. }));
        assert!(err.to_string().starts_with("drop folder "));
    }
}
