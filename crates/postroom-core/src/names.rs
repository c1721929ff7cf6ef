//! Safe names for what postroom writes into a library: [`safe_component`]
//! turns free text (a subject, a sender, any name) into one SharePoint-valid
//! path component; [`safe_file_name`] does the same for an attachment name,
//! keeping only its last path component; [`fit_name`] builds `stem (n).ext`
//! within the length limits. One set of rules for the parser and the store.

/// Longest name in characters (SharePoint's limit for one component).
pub const MAX_CHARS: usize = 128;
/// Longest name in bytes (ext4 and most filesystems stop at 255).
pub const MAX_BYTES: usize = 240;
/// Longest text after the last dot that still counts as an extension.
const MAX_EXT_CHARS: usize = 16;

/// Characters SharePoint or Windows refuse in a name; each becomes `_`.
const FORBIDDEN: &[char] = &[
    '~', '"', '#', '%', '&', '*', ':', '<', '>', '?', '/', '\\', '{', '|', '}',
];

/// Names Windows reserves, with or without an extension.
const RESERVED: &[&str] = &[
    "con", "prn", "aux", "nul", "com0", "com1", "com2", "com3", "com4", "com5", "com6", "com7",
    "com8", "com9", "lpt0", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// One safe path component made from `raw`, or from `fallback` when nothing
/// usable is left of `raw`, or `_`.
///
/// Guarantees: not empty, not `.` or `..`, no `/`, `\`, control or invisible
/// characters, nothing SharePoint refuses (`~ " # % & * : < > ? { | }`, `_vti_`,
/// a leading `~$`), no leading or trailing dot or space (never hidden, never
/// `.postroom`), no Windows reserved name, at most 128 characters and 240
/// bytes with a short extension kept. Applying it to its result changes nothing.
pub fn safe_component(raw: &str, fallback: &str) -> String {
    first_clean(&[raw, fallback]).unwrap_or_else(|| "_".to_string())
}

/// An attachment name as sent, made safe: only its last path component (so
/// `../../etc/cron.d/evil` is `evil`), then [`safe_component`]'s rules; the
/// fallback likewise, and `attachment` when both are empty.
pub fn safe_file_name(raw: &str, fallback: &str) -> String {
    let last = |s: &'_ str| s.rsplit(['/', '\\']).next().unwrap_or_default().to_string();
    first_clean(&[&last(raw), &last(fallback)]).unwrap_or_else(|| "attachment".to_string())
}

/// True if `name` is exactly what [`safe_component`] makes of it.
pub fn is_safe_component(name: &str) -> bool {
    !name.is_empty() && clean(name) == name
}

fn first_clean(candidates: &[&str]) -> Option<String> {
    candidates.iter().map(|c| clean(c)).find(|c| !c.is_empty())
}

/// Applies every rule; may return an empty string.
fn clean(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut last_space = true; // drops leading spaces too
    for c in strip_lock_prefix(raw).chars() {
        let c = if c.is_whitespace() {
            ' '
        } else if c.is_control() || is_invisible(c) {
            continue;
        } else if FORBIDDEN.contains(&c) {
            '_'
        } else {
            c
        };
        if c == ' ' && last_space {
            continue;
        }
        last_space = c == ' ';
        out.push(c);
    }
    let name = remove_vti(trim_edges(&out));
    let mut name = trim_edges(&name).to_string();
    if name.is_empty() {
        return name;
    }
    if is_reserved(&name) {
        name.insert(0, '_');
    }
    if name.chars().count() <= MAX_CHARS && name.len() <= MAX_BYTES {
        return name;
    }
    let (stem, ext) = split_ext(&name);
    fit_name(stem, 0, ext)
}

/// Removes Office lock-file prefixes `~$` (after leading whitespace).
fn strip_lock_prefix(mut s: &str) -> &str {
    while let Some(rest) = s.trim_start().strip_prefix("~$") {
        s = rest;
    }
    s
}

/// Format characters that can hide or reorder text (zero-width, bidi
/// overrides that make `exe.pdf` look like `fdp.exe`, byte order mark).
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

fn trim_edges(s: &str) -> &str {
    s.trim_matches([' ', '.'])
}

/// SharePoint refuses `_vti_` anywhere in a name: drop its leading `_` until none is left.
fn remove_vti(name: &str) -> String {
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

/// Split `name` into stem and extension (without the dot); the extension is
/// empty when there is none or it does not look like one.
pub fn split_ext(name: &str) -> (&str, &str) {
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
/// whole name stays within [`MAX_CHARS`] and [`MAX_BYTES`].
pub fn fit_name(stem: &str, n: u64, ext: &str) -> String {
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
    // A stem cut short may end in a dot; the name itself must not.
    format!("{kept}{suffix}{ext_part}")
        .trim_end_matches(['.', ' '])
        .to_string()
}

#[cfg(test)]
#[path = "names_test.rs"]
mod tests;
