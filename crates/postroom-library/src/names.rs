//! Numbered variants of a file name: [`candidates`] yields `a.pdf`,
//! `a (1).pdf`, `a (2).pdf`, … in a fixed order, so every process that looks
//! for a free name walks the same sequence. What makes a name safe is
//! `postroom_core::names`, shared with the parser.

use postroom_core::names::{fit_name, split_ext};

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

    #[test]
    fn numbered_names_stay_within_limits() {
        let long = postroom_core::names::safe_component(&format!("{}.pdf", "é".repeat(300)), "x");
        let c: Vec<String> = candidates(&long).skip(12345).take(1).collect();
        assert!(c[0].ends_with(" (12345).pdf"));
        assert!(c[0].chars().count() <= postroom_core::names::MAX_CHARS);
        assert!(c[0].len() <= postroom_core::names::MAX_BYTES);
    }
}
