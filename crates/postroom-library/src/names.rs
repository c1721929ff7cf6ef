//! File and folder names: [`safe_component`] turns anything a sender wrote
//! (an attachment name, a subject, an address) into one SharePoint-safe path
//! component, and [`candidates`] yields the ` (1)`, ` (2)`, … variants of a
//! name in a fixed order, so every process that looks for a free name walks
//! the same sequence.
//!
//! This crate keeps its own sanitizer on purpose (defense in depth): whatever
//! the parser hands over, nothing this crate writes can leave the library folder.

/// Longest name in characters (SharePoint's limit for one component).
pub(crate) const MAX_CHARS: usize = 128;
/// Longest name in bytes (ext4 and most filesystems stop at 255).
const MAX_BYTES: usize = 240;
/// Longest text after the last dot that still counts as an extension.
const MAX_EXT_CHARS: usize = 16;

/// Characters SharePoint and Windows refuse in a file or folder name.
const FORBIDDEN: &[char] = &['"', '*', ':', '<', '>', '?', '/', '\\', '|', '#', '%'];

/// Names Windows reserves, with or without an extension.
const RESERVED: &[&str] = &[
    "con", "prn", "aux", "nul", "com0", "com1", "com2", "com3", "com4", "com5", "com6", "com7",
    "com8", "com9", "lpt0", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// One safe path component made from `raw`, or from `fallback` when nothing
/// usable is left of `raw`.
///
/// Guarantees: not empty, not `.` or `..`, no `/` or `\` or control
/// characters, no leading or trailing dot or space (so never a hidden name
/// and never `.postroom`), no Windows reserved name, at most 128 characters
/// and 240 bytes. Applying it to its own result changes nothing.
pub(crate) fn safe_component(raw: &str, fallback: &str) -> String {
    let cleaned = clean(raw);
    if !cleaned.is_empty() {
        return cleaned;
    }
    let cleaned = clean(fallback);
    if !cleaned.is_empty() {
        return cleaned;
    }
    "_".to_string()
}

/// True if `name` is exactly what [`safe_component`] would make of it.
pub(crate) fn is_safe_component(name: &str) -> bool {
    !name.is_empty() && clean(name) == name
}

fn clean(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut last_space = true; // drops leading spaces too
    for c in raw.chars() {
        if is_invisible(c) {
            continue;
        }
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else if FORBIDDEN.contains(&c) {
            '_'
        } else {
            c
        };
        if c == ' ' {
            if last_space {
                continue;
            }
            last_space = true;
        } else {
            last_space = false;
        }
        out.push(c);
    }
    let trimmed = trim_edges(&out);
    if trimmed.is_empty() {
        return String::new();
    }
    let mut name = trimmed.to_string();
    if is_reserved(&name) {
        name.insert(0, '_');
    }
    let (stem, ext) = split_ext(&name);
    fit_name(stem, 0, ext)
}

/// Format characters that can hide or reorder text (zero-width, bidi
/// overrides that make `exe.pdf` look like `fdp.exe`, byte order mark).
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

fn trim_edges(s: &str) -> &str {
    s.trim_matches(|c: char| c == ' ' || c == '.')
}

fn is_reserved(name: &str) -> bool {
    let stem = name
        .split('.')
        .next()
        .unwrap_or(name)
        .trim_end()
        .to_ascii_lowercase();
    RESERVED.contains(&stem.as_str())
}

/// Split `name` into stem and extension (without the dot); the extension is
/// empty when there is none or it does not look like one.
pub(crate) fn split_ext(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(dot) if dot > 0 => {
            let ext = &name[dot + 1..];
            let n = ext.chars().count();
            if (1..=MAX_EXT_CHARS).contains(&n) && !ext.contains(' ') {
                (&name[..dot], ext)
            } else {
                (name, "")
            }
        }
        _ => (name, ""),
    }
}

/// `stem (n).ext` (no ` (n)` when `n` is 0), shortening the stem so the
/// whole name stays within the length limits.
pub(crate) fn fit_name(stem: &str, n: u64, ext: &str) -> String {
    let suffix = if n == 0 {
        String::new()
    } else {
        format!(" ({n})")
    };
    let ext_part = if ext.is_empty() {
        String::new()
    } else {
        format!(".{ext}")
    };
    let tail_chars = suffix.chars().count() + ext_part.chars().count();
    let tail_bytes = suffix.len() + ext_part.len();
    let mut kept = String::new();
    for (chars, c) in stem.chars().enumerate() {
        if chars + 1 + tail_chars > MAX_CHARS || kept.len() + c.len_utf8() + tail_bytes > MAX_BYTES
        {
            break;
        }
        kept.push(c);
    }
    let kept = kept.trim_end_matches(' ');
    let kept = if kept.is_empty() { "_" } else { kept };
    let name = format!("{kept}{suffix}{ext_part}");
    // A stem cut short may end in a dot; the name itself must not.
    name.trim_end_matches(['.', ' ']).to_string()
}

/// `name` itself, then its numbered variants in order: `a.pdf` → `a (1).pdf`,
/// `a (2).pdf`, …; `a (3).pdf` → `a (4).pdf`, …
pub(crate) fn candidates(name: &str) -> impl Iterator<Item = String> + '_ {
    let (stem, ext) = split_ext(name);
    let (base, start) = split_number(stem);
    std::iter::once(name.to_string()).chain((start + 1..).map(move |n| fit_name(base, n, ext)))
}

/// `report (3)` → (`report`, 3); `report` → (`report`, 0).
fn split_number(stem: &str) -> (&str, u64) {
    let Some(inner) = stem.strip_suffix(')') else {
        return (stem, 0);
    };
    let Some(open) = inner.rfind(" (") else {
        return (stem, 0);
    };
    let digits = &inner[open + 2..];
    if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return (stem, 0);
    }
    match digits.parse::<u64>() {
        Ok(n) if n > 0 && open > 0 => (&stem[..open], n),
        _ => (stem, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_and_separators_are_neutralised() {
        for raw in [
            "../../etc/passwd",
            "..",
            ".",
            "/",
            "\\..\\x",
            "a/b",
            " ../ ",
        ] {
            let s = safe_component(raw, "fallback");
            assert!(!s.contains('/') && !s.contains('\\'), "{raw:?} -> {s:?}");
            assert!(
                s != "." && s != ".." && !s.starts_with('.'),
                "{raw:?} -> {s:?}"
            );
        }
        assert_eq!(safe_component("../../etc/passwd", "x"), "_.._etc_passwd");
        assert_eq!(safe_component("..", "fallback"), "fallback");
        assert_eq!(safe_component("", ""), "_");
        assert_eq!(safe_component(".postroom", "x"), "postroom");
    }

    #[test]
    fn forbidden_controls_reserved_and_spaces() {
        assert_eq!(safe_component("RE: a?b*c", "x"), "RE_ a_b_c");
        assert_eq!(safe_component("a\r\n\tb   c", "x"), "a b c");
        assert_eq!(safe_component("CON.txt", "x"), "_CON.txt");
        assert_eq!(safe_component("nul", "x"), "_nul");
        assert_eq!(safe_component("console.txt", "x"), "console.txt");
        assert_eq!(
            safe_component("invoice\u{202e}fdp.exe", "x"),
            "invoicefdp.exe"
        );
        assert_eq!(safe_component("  name.  ", "x"), "name");
    }

    #[test]
    fn long_names_keep_their_extension_and_fit() {
        let long = format!("{}.pdf", "é".repeat(300));
        let s = safe_component(&long, "x");
        assert!(s.ends_with(".pdf"));
        assert!(s.chars().count() <= MAX_CHARS && s.len() <= MAX_BYTES);
        let numbered = fit_name(split_ext(&s).0, 12345, "pdf");
        assert!(numbered.ends_with(" (12345).pdf") && numbered.chars().count() <= MAX_CHARS);
    }

    #[test]
    fn idempotent() {
        for raw in [
            "a.pdf",
            "../../x",
            "RE: hello",
            "CON",
            "x (1).pdf",
            &"z".repeat(400),
        ] {
            let once = safe_component(raw, "f");
            assert_eq!(safe_component(&once, "f"), once);
            assert!(is_safe_component(&once));
        }
        assert!(!is_safe_component("../x"));
        assert!(!is_safe_component(""));
    }

    #[test]
    fn candidate_sequence() {
        let c: Vec<String> = candidates("a.pdf").take(3).collect();
        assert_eq!(c, ["a.pdf", "a (1).pdf", "a (2).pdf"]);
        let c: Vec<String> = candidates("a (3).pdf").take(2).collect();
        assert_eq!(c, ["a (3).pdf", "a (4).pdf"]);
        let c: Vec<String> = candidates("README").take(2).collect();
        assert_eq!(c, ["README", "README (1)"]);
        let c: Vec<String> = candidates("archive.tar.gz").take(2).collect();
        assert_eq!(c, ["archive.tar.gz", "archive.tar (1).gz"]);
        assert_eq!(split_number("(2)"), ("(2)", 0));
    }
}
