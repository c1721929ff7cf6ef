//! Named groups of senders (`[farm.groups]`), SharePoint's groups with
//! contribute rights on a list: a library's `members` may name
//! `group:<name>` beside addresses and domains, and a group may hold
//! addresses (`alice@contoso.com`), domains (`@fabrikam.com`) and other
//! groups. Expansion is pure, visits each group once (cycles end), and the
//! config rules here name every bad entry.

use std::collections::{BTreeMap, BTreeSet};

use crate::address::{domain_problem, split_address};
use crate::config::LibrarySettings;

/// How a members entry names a group.
pub const GROUP_PREFIX: &str = "group:";

/// Each group's entries, by group name.
pub type Groups = BTreeMap<String, Vec<String>>;

/// The group an entry names, if it names one.
pub fn group_name(entry: &str) -> Option<&str> {
    let entry = entry.trim();
    entry
        .get(..GROUP_PREFIX.len())
        .filter(|p| p.eq_ignore_ascii_case(GROUP_PREFIX))
        .map(|_| entry[GROUP_PREFIX.len()..].trim())
}

/// Every address and domain entry `members` stands for, groups expanded
/// (nested ones too, each once; an unknown group stands for nobody).
pub fn expand<'a>(members: &'a [String], groups: &'a Groups) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let mut todo: Vec<&'a str> = members.iter().map(String::as_str).collect();
    while let Some(entry) = todo.pop() {
        match group_name(entry) {
            None => out.push(entry),
            Some(name) => {
                let key = name.to_ascii_lowercase();
                if seen.insert(key.clone()) {
                    if let Some(inner) = groups.get(&key) {
                        todo.extend(inner.iter().map(String::as_str));
                    }
                }
            }
        }
    }
    out
}

/// Why a group name is not valid: lowercase letters, digits, `-`, `_`, `.`.
fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() || name.len() > 64 {
        return Some("must be 1 to 64 characters");
    }
    let fine = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c);
    (!name.chars().all(fine)).then_some("may hold lowercase letters, digits, '-', '_' and '.' only")
}

/// Why a members entry (address, domain or group) is not valid.
fn entry_problem(entry: &str, groups: &Groups) -> Option<String> {
    if let Some(name) = group_name(entry) {
        return (!groups.contains_key(&name.to_ascii_lowercase())).then(|| {
            let known: Vec<&str> = groups.keys().map(String::as_str).collect();
            format!(
                "names no group in farm.groups (groups: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )
        });
    }
    let bare = entry.trim().trim_start_matches('@');
    let problem = match split_address(bare) {
        Some((_, domain)) => domain_problem(domain),
        None => domain_problem(bare),
    };
    problem.map(str::to_string)
}

/// Every problem of the groups and of the libraries' members entries.
pub fn problems(groups: &Groups, libraries: &[LibrarySettings]) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, entries) in groups {
        if let Some(why) = name_problem(name) {
            problems.push(format!("farm.groups: group name {name:?} {why}"));
        }
        if entries.is_empty() {
            problems.push(format!(
                "farm.groups.{name}: a group needs at least one entry"
            ));
        }
        for e in entries {
            if let Some(why) = entry_problem(e, groups) {
                problems.push(format!("farm.groups.{name}: entry {e:?} {why}"));
            }
        }
    }
    for lib in libraries {
        for m in &lib.members {
            if let Some(why) = entry_problem(m, groups) {
                problems.push(format!("library {:?}: members entry {m:?} {why}", lib.name));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(pairs: &[(&str, &[&str])]) -> Groups {
        pairs
            .iter()
            .map(|(n, e)| (n.to_string(), e.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn groups_expand_nested_and_cycles_end() {
        let g = groups(&[
            ("finance", &["alice@contoso.com", "group:auditors"]),
            ("auditors", &["@fabrikam.com", "group:finance"]),
        ]);
        let members = vec!["bob@contoso.com".to_string(), "GROUP: Finance".to_string()];
        let mut got = expand(&members, &g);
        got.sort();
        assert_eq!(
            got,
            ["@fabrikam.com", "alice@contoso.com", "bob@contoso.com"]
        );
        assert!(expand(&["group:nobody".to_string()], &g).is_empty());
    }

    #[test]
    fn problems_name_the_group_and_the_entry() {
        let g = groups(&[
            ("Finance", &["not an address!"]),
            ("empty", &[]),
            ("ok", &["group:missing"]),
        ]);
        let mut lib = LibrarySettings::document_library("Board", "board");
        lib.members = vec!["group:absent".into(), "alice@contoso.com".into()];
        let p = problems(&g, &[lib]);
        assert!(
            p.iter()
                .any(|p| p.starts_with("farm.groups: group name \"Finance\" may hold lowercase")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|p| p.starts_with("farm.groups.Finance: entry \"not an address!\"")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|p| p == "farm.groups.empty: a group needs at least one entry"),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|p| p.starts_with("farm.groups.ok: entry \"group:missing\" names no group")),
            "{p:?}"
        );
        assert!(p.iter().any(|p| p.starts_with("library \"Board\": members entry \"group:absent\" names no group in farm.groups (groups: Finance, empty, ok)")), "{p:?}");
        assert_eq!(p.len(), 5, "{p:?}");
    }
}
