//! Attachment file names: [`safe_file_name`] turns an untrusted name into one
//! file-name component that is valid in a SharePoint document library and
//! cannot escape a folder on any local file system.

/// Longest file name produced, in `char`s.
const MAX_CHARS: usize = 128;

/// Longest extension (dot included, in `char`s) kept when a name is shortened.
const MAX_EXTENSION_CHARS: usize = 16;

/// Name used when both the raw name and the fallback clean up to nothing.
const LAST_RESORT: &str = "attachment";

/// Characters SharePoint or Windows refuse in a file name.
const FORBIDDEN: &[char] = &[
    '~', '"', '#', '%', '&', '*', ':', '<', '>', '?', '/', '\\', '{', '|', '}',
];

/// Windows reserved device names (matched case-insensitively on the part
/// before the first dot).
const RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// Make a name safe as one file-name component in a document library.
///
/// Keeps only the last path component (split on `/` and `\`); drops control
/// characters, bidirectional-override characters and `~ " # % & * : < > ? / \ { | }`;
/// collapses whitespace runs to one space; trims spaces and dots at both ends;
/// removes a leading `~$` and replaces every `_vti_` with `vti_`; prefixes
/// Windows device names (`CON`, `con.txt`, `LPT1.log`, ...) with `_`; limits
/// the result to 128 `char`s, shortening the stem and keeping the extension.
/// When nothing is left, `fallback` goes through the same rules, and when that
/// is empty too the result is `attachment`. The result is never empty, `.` or `..`.
pub fn safe_file_name(raw: &str, fallback: &str) -> String {
    let cleaned = clean(raw);
    if !cleaned.is_empty() {
        return cleaned;
    }
    let cleaned = clean(fallback);
    if !cleaned.is_empty() {
        return cleaned;
    }
    LAST_RESORT.to_string()
}

/// Applies every rule; may return an empty string.
fn clean(raw: &str) -> String {
    let component = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let component = strip_lock_prefix(component);

    let mut name = String::with_capacity(component.len());
    let mut pending_space = false;
    for c in component.chars() {
        if c.is_control() || is_bidi_control(c) || FORBIDDEN.contains(&c) {
            continue;
        }
        if c.is_whitespace() {
            pending_space = true;
            continue;
        }
        if pending_space && !name.is_empty() {
            name.push(' ');
        }
        pending_space = false;
        name.push(c);
    }

    let mut name = replace_vti(trim_spaces_and_dots(&name));
    name = trim_spaces_and_dots(&name).to_string();
    if name.is_empty() {
        return name;
    }
    if is_reserved(&name) {
        name.insert(0, '_');
    }
    shorten(&name)
}

/// Removes Office lock-file prefixes `~$` (after leading whitespace).
fn strip_lock_prefix(mut component: &str) -> &str {
    loop {
        let trimmed = component.trim_start();
        match trimmed.strip_prefix("~$") {
            Some(rest) => component = rest,
            None => return component,
        }
    }
}

/// Unicode bidirectional controls, which can disguise an extension.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn trim_spaces_and_dots(name: &str) -> &str {
    name.trim_matches([' ', '.'])
}

/// SharePoint refuses `_vti_` anywhere in a name: replace it with `vti_`
/// (case-insensitively, until none is left).
fn replace_vti(name: &str) -> String {
    let mut name = name.to_string();
    while let Some(pos) = name.to_ascii_lowercase().find("_vti_") {
        name.remove(pos);
    }
    name
}

fn is_reserved(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name).trim_end();
    RESERVED.iter().any(|r| stem.eq_ignore_ascii_case(r))
}

/// Limits `name` to [`MAX_CHARS`] chars, keeping a short extension.
fn shorten(name: &str) -> String {
    if name.chars().count() <= MAX_CHARS {
        return name.to_string();
    }
    let extension = name
        .rfind('.')
        .filter(|&dot| dot > 0)
        .and_then(|dot| name.get(dot..))
        .filter(|ext| {
            let n = ext.chars().count();
            n > 1 && n <= MAX_EXTENSION_CHARS && !ext.contains(' ')
        })
        .unwrap_or("");
    let stem_len = name.len() - extension.len();
    let stem = name.get(..stem_len).unwrap_or(name);
    let budget = MAX_CHARS - extension.chars().count();
    let short_stem: String = stem.chars().take(budget).collect();
    let short_stem = short_stem.trim_end_matches([' ', '.']);
    format!("{short_stem}{extension}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_components_are_dropped() {
        assert_eq!(safe_file_name("../../../../etc/cron.d/evil", "x"), "evil");
        assert_eq!(safe_file_name("..\\..\\boot.ini", "x"), "boot.ini");
        assert_eq!(
            safe_file_name("C:\\Users\\me\\report.pdf", "x"),
            "report.pdf"
        );
        assert_eq!(safe_file_name("dir/", "fallback.bin"), "fallback.bin");
        assert_eq!(safe_file_name("a/..", "fb"), "fb");
    }

    #[test]
    fn forbidden_and_control_characters() {
        assert_eq!(
            safe_file_name("a:b*c?d\"e<f>g|h#i%j&k{l}m~n.txt", "x"),
            "abcdefghijklmn.txt"
        );
        assert_eq!(safe_file_name("a\0b\u{7}c\td\u{85}.txt", "x"), "abcd.txt");
        assert_eq!(
            safe_file_name("invoice\u{202E}fdp.exe", "x"),
            "invoicefdp.exe"
        );
    }

    #[test]
    fn whitespace_and_dots() {
        assert_eq!(
            safe_file_name("  Quarterly \u{A0}  report .pdf. ", "x"),
            "Quarterly report .pdf"
        );
        assert_eq!(safe_file_name("...hidden", "x"), "hidden");
        assert_eq!(safe_file_name(".", "fb"), "fb");
        assert_eq!(safe_file_name("..", "fb"), "fb");
        assert_eq!(safe_file_name(" . . ", "fb"), "fb");
    }

    #[test]
    fn fallbacks() {
        assert_eq!(safe_file_name("", "attachment-1.pdf"), "attachment-1.pdf");
        assert_eq!(safe_file_name("???", "a/b/c.txt"), "c.txt");
        assert_eq!(safe_file_name("", ""), "attachment");
        assert_eq!(safe_file_name("***", "..."), "attachment");
    }

    #[test]
    fn reserved_device_names() {
        assert_eq!(safe_file_name("CON", "x"), "_CON");
        assert_eq!(safe_file_name("con.txt", "x"), "_con.txt");
        assert_eq!(safe_file_name("Lpt9.tar.gz", "x"), "_Lpt9.tar.gz");
        assert_eq!(safe_file_name("nul ", "x"), "_nul");
        assert_eq!(safe_file_name("COM10", "x"), "COM10");
        assert_eq!(safe_file_name("console.log", "x"), "console.log");
        assert_eq!(safe_file_name("", "aux"), "_aux");
    }

    #[test]
    fn sharepoint_prefixes() {
        assert_eq!(safe_file_name("~$budget.xlsx", "x"), "budget.xlsx");
        assert_eq!(safe_file_name("~$~$budget.xlsx", "x"), "budget.xlsx");
        assert_eq!(safe_file_name("_vti_cnf", "x"), "vti_cnf");
        assert_eq!(safe_file_name("a__VTI_b", "x"), "aVTI_b");
        assert_eq!(safe_file_name("__vti_vti_x", "x"), "vtivti_x");
    }

    #[test]
    fn long_names_keep_their_extension() {
        let name = format!("{}.pdf", "a".repeat(300));
        let safe = safe_file_name(&name, "x");
        assert_eq!(safe.chars().count(), 128);
        assert!(safe.ends_with(".pdf"));
        assert!(safe.starts_with("aaaa"));

        let no_ext = "b".repeat(300);
        assert_eq!(safe_file_name(&no_ext, "x"), "b".repeat(128));

        let silly_ext = format!("a.{}", "c".repeat(300));
        assert_eq!(safe_file_name(&silly_ext, "x").chars().count(), 128);
    }

    #[test]
    fn multibyte_names_are_cut_at_char_boundaries() {
        let name = format!("{}.docx", "ü€😀".repeat(100));
        let safe = safe_file_name(&name, "x");
        assert_eq!(safe.chars().count(), 128);
        assert!(safe.ends_with(".docx"));
        let emoji = "😀".repeat(200);
        assert_eq!(safe_file_name(&emoji, "x"), "😀".repeat(128));
    }

    #[test]
    fn ordinary_names_are_unchanged() {
        for name in [
            "Quarterly report.pdf",
            "Contract draft v2.pdf",
            "Ünïcödé – 2026.xlsx",
            "a",
        ] {
            assert_eq!(safe_file_name(name, "x"), name);
        }
    }
}
