//! Small filesystem primitives on directory handles: create-new writes,
//! renames that never replace (`renameat2(RENAME_NOREPLACE)`, falling back to
//! `link` + `unlink` where the filesystem lacks it, e.g. NFS), content
//! comparison, and the durability barriers (`syncfs` for a whole batch,
//! `fsync` for single files).
//!
//! Every path below a directory handle is one component that was made safe
//! by the caller; directories are opened with `O_NOFOLLOW`, so a symbolic
//! link planted inside a library cannot redirect a write outside it.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{AtFlags, Mode, OFlags, RenameFlags};
use rustix::io::Errno;

use crate::item::FileContent;

/// Mode for new files and folders (the umask still applies).
const FILE_MODE: u32 = 0o666;
const DIR_MODE: u32 = 0o777;

/// Open a directory by path (following links: the configured root may be one).
pub(crate) fn open_dir_path(path: &Path) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Open the sub-directory `name` of `parent`; a symbolic link is refused.
pub(crate) fn open_subdir(parent: BorrowedFd<'_>, name: &str) -> io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    Ok(rustix::fs::openat(parent, name, flags, Mode::empty())?)
}

/// Create (if missing) and open the sub-directory `name` of `parent`.
pub(crate) fn ensure_subdir(parent: BorrowedFd<'_>, name: &str) -> io::Result<OwnedFd> {
    match rustix::fs::mkdirat(parent, name, Mode::from_raw_mode(DIR_MODE)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(e) => return Err(e.into()),
    }
    open_subdir(parent, name)
}

/// Create `name` in `dir` (it must not exist) and write `bytes`; no fsync.
pub(crate) fn write_new(dir: BorrowedFd<'_>, name: &str, bytes: &[u8]) -> io::Result<File> {
    write_new_content(dir, name, FileContent::Bytes(bytes))
}

/// Create `name` in `dir` (it must not exist) and write `content` piece by
/// piece as it is produced; no fsync.
pub(crate) fn write_new_content(
    dir: BorrowedFd<'_>,
    name: &str,
    content: FileContent<'_>,
) -> io::Result<File> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(dir, name, flags, Mode::from_raw_mode(FILE_MODE))?;
    let mut file = File::from(fd);
    let mut written: u64 = 0;
    content.pieces(&mut |piece| {
        written += piece.len() as u64;
        file.write_all(piece)
    })?;
    // "Holds our bytes" compares lengths first: what was written must be
    // the length the content says, or a retry would not know its own file.
    if written != content.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{name}: wrote {written} bytes, the content says {}",
                content.len()
            ),
        ));
    }
    Ok(file)
}

/// Like [`write_new`], then fsync the file.
pub(crate) fn write_new_synced(dir: BorrowedFd<'_>, name: &str, bytes: &[u8]) -> io::Result<()> {
    let file = write_new(dir, name, bytes)?;
    file.sync_all()
}

/// Rename `from` to `to` unless `to` exists. `Ok(true)`: renamed;
/// `Ok(false)`: `to` exists and nothing changed.
pub(crate) fn rename_noreplace(
    from_dir: BorrowedFd<'_>,
    from: &str,
    to_dir: BorrowedFd<'_>,
    to: &str,
) -> io::Result<bool> {
    match rustix::fs::renameat_with(from_dir, from, to_dir, to, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(true),
        Err(Errno::EXIST) => Ok(false),
        // NFS and some FUSE filesystems lack RENAME_NOREPLACE; a hard link
        // gives the same "create only if absent" answer.
        Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {
            match rustix::fs::linkat(from_dir, from, to_dir, to, AtFlags::empty()) {
                Ok(()) => {
                    remove_at(from_dir, from)?;
                    Ok(true)
                }
                Err(Errno::EXIST) => Ok(false),
                Err(e) => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Rename `from` to `to`, atomically replacing `to` if it exists.
pub(crate) fn rename_replace(
    from_dir: BorrowedFd<'_>,
    from: &str,
    to_dir: BorrowedFd<'_>,
    to: &str,
) -> io::Result<()> {
    Ok(rustix::fs::renameat(from_dir, from, to_dir, to)?)
}

/// Remove the file `name` from `dir`; a missing file is fine.
pub(crate) fn remove_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<()> {
    match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// True if anything (file, folder, link) is called `name` in `dir`.
pub(crate) fn exists_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<bool> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(_) => Ok(true),
        Err(Errno::NOENT) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The whole content of the regular file `name` in `dir`; `None` if missing.
pub(crate) fn read_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<Option<Vec<u8>>> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = match rustix::fs::openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut file = File::from(fd);
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a regular file",
        ));
    }
    let mut out = Vec::new();
    file.read_to_end(&mut out)?;
    Ok(Some(out))
}

/// What is found under a name we wanted to place our bytes at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Existing {
    /// Nothing (it went away since we looked).
    Missing,
    /// A regular file with exactly our bytes.
    Same,
    /// Anything else: other bytes, a folder, a link, a file we cannot read.
    Different,
}

/// Open the file `name` in `dir` for reading (not through a link).
pub(crate) fn read_only(dir: BorrowedFd<'_>, name: &str) -> io::Result<File> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    Ok(File::from(rustix::fs::openat(
        dir,
        name,
        flags,
        Mode::empty(),
    )?))
}

/// Compare the file `name` in `dir` with `content`, reading the file in
/// chunks as the content's pieces come (neither is held whole).
pub(crate) fn compare_at(
    dir: BorrowedFd<'_>,
    name: &str,
    content: FileContent<'_>,
) -> io::Result<Existing> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = match rustix::fs::openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(Existing::Missing),
        // A link, a socket or a file we may not read is not one we wrote.
        Err(Errno::LOOP | Errno::NXIO | Errno::ACCESS | Errno::PERM) => {
            return Ok(Existing::Different)
        }
        Err(e) => return Err(e.into()),
    };
    let mut file = File::from(fd);
    let meta = file.metadata()?;
    if !meta.is_file() || meta.len() != content.len() {
        return Ok(Existing::Different);
    }
    let mut buf = vec![0u8; 64 * 1024];
    let mut differs = false;
    let compared = content.pieces(&mut |mut piece| {
        while !piece.is_empty() {
            let n = piece.len().min(buf.len());
            let (ours, rest) = piece.split_at(n);
            let theirs = buf.get_mut(..n).unwrap_or_default();
            match file.read_exact(theirs) {
                Ok(()) if theirs == ours => piece = rest,
                Ok(()) => {
                    differs = true;
                    return Err(io::Error::other("the bytes differ"));
                }
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    differs = true;
                    return Err(e);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    });
    if differs {
        return Ok(Existing::Different);
    }
    compared?;
    // Longer than when we looked (it is being written to): not ours.
    let mut one = [0u8; 1];
    Ok(if file.read(&mut one)? == 0 {
        Existing::Same
    } else {
        Existing::Different
    })
}

/// Flush the whole filesystem that holds `fd` to disk (one barrier for a
/// whole batch instead of one fsync per file).
pub(crate) fn sync_filesystem(fd: impl AsFd) -> io::Result<()> {
    Ok(rustix::fs::syncfs(fd)?)
}

/// fsync a directory (so the names created or removed in it are durable).
pub(crate) fn fsync_dir(fd: impl AsFd) -> io::Result<()> {
    Ok(rustix::fs::fsync(fd)?)
}

/// Names in the directory `dir` (read through a fresh handle).
pub(crate) fn list_names(dir: BorrowedFd<'_>) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in rustix::fs::Dir::read_from(dir)? {
        let entry = entry?;
        if let Ok(name) = entry.file_name().to_str() {
            if name != "." && name != ".." {
                names.push(name.to_string());
            }
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noreplace_and_compare() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = open_dir_path(tmp.path()).unwrap();
        write_new(dir.as_fd(), "a", b"one").unwrap();
        write_new(dir.as_fd(), "b", b"two").unwrap();
        assert!(write_new(dir.as_fd(), "a", b"again").is_err());
        assert!(!rename_noreplace(dir.as_fd(), "a", dir.as_fd(), "b").unwrap());
        let compare = |name: &str, bytes: &[u8]| {
            compare_at(dir.as_fd(), name, FileContent::Bytes(bytes)).unwrap()
        };
        assert_eq!(compare("b", b"two"), Existing::Same);
        assert_eq!(compare("b", b"tw"), Existing::Different);
        assert_eq!(compare("b", b"twx"), Existing::Different);
        assert_eq!(compare("c", b"two"), Existing::Missing);
        assert!(rename_noreplace(dir.as_fd(), "a", dir.as_fd(), "c").unwrap());
        assert!(!exists_at(dir.as_fd(), "a").unwrap());
        assert_eq!(read_at(dir.as_fd(), "c").unwrap().unwrap(), b"one");
        let mut names = list_names(dir.as_fd()).unwrap();
        names.sort();
        assert_eq!(names, ["b", "c"]);
        sync_filesystem(&dir).unwrap();
    }

    #[test]
    fn symlinked_folder_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), tmp.path().join("evil")).unwrap();
        let dir = open_dir_path(tmp.path()).unwrap();
        assert!(ensure_subdir(dir.as_fd(), "evil").is_err());
        assert!(ensure_subdir(dir.as_fd(), "good").is_ok());
    }
}
