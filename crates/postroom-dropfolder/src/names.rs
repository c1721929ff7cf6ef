//! Which directory entries are candidate mail files by name alone: hidden
//! names and the temporary names MTAs and copy tools write to are skipped.
//! Pure; no IO.

use std::ffi::OsStr;
use std::path::Path;

/// Name endings (compared case-insensitively) of files still being written.
const TEMP_SUFFIXES: [&str; 7] = [
    ".tmp",
    ".temp",
    ".part",
    ".partial",
    ".lock",
    ".filepart",
    ".crdownload",
];

/// Whether a file with this name may be offered: not empty, not hidden
/// (`.` prefix), no `~` prefix or suffix, and no temporary suffix.
pub(crate) fn is_candidate_name(name: &OsStr) -> bool {
    let name = name.to_string_lossy();
    if name.is_empty() || name.starts_with('.') || name.starts_with('~') || name.ends_with('~') {
        return false;
    }
    let lower = name.to_ascii_lowercase();
    !TEMP_SUFFIXES.iter().any(|suffix| lower.ends_with(suffix))
}

/// [`is_candidate_name`] of the path's last component; `false` without one.
pub(crate) fn is_candidate_path(path: &Path) -> bool {
    path.file_name().is_some_and(is_candidate_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(name: &str) -> bool {
        is_candidate_name(OsStr::new(name))
    }

    #[test]
    fn mail_names_are_candidates() {
        assert!(ok("a.eml"));
        assert!(ok("1700000000.M1P2.host"));
        assert!(ok("msg"));
        assert!(ok("tmp"));
        assert!(ok("x.tmp.eml"));
        assert!(ok("partial-report.eml"));
    }

    #[test]
    fn hidden_and_temporary_names_are_skipped() {
        for name in [
            "",
            ".hidden",
            ".a.eml",
            "~a.eml",
            "a.eml~",
            "a.tmp",
            "a.TMP",
            "a.Temp",
            "a.part",
            "a.PARTIAL",
            "a.lock",
            "a.filepart",
            "a.crdownload",
        ] {
            assert!(!ok(name), "{name:?} should be skipped");
        }
    }

    #[test]
    fn paths_use_their_last_component() {
        assert!(is_candidate_path(Path::new("/drop/a.eml")));
        assert!(!is_candidate_path(Path::new("/drop/a.eml.tmp")));
        assert!(!is_candidate_path(Path::new("/drop/.x")));
        assert!(!is_candidate_path(Path::new("/")));
    }
}
