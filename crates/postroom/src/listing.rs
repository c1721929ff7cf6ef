//! Read-only commands that inspect a node's data dir: `postroom items` and
//! `postroom quarantine list`. They read the library folders and quarantine
//! directly, so they work while the node runs (and when it is down).

use anyhow::Context;
use postroom_core::config::ConfigFile;
use postroom_library::{ItemRecord, Library, Quarantine, QuarantineEntry};

/// Items filed in the library with this alias.
pub fn items(config: &ConfigFile, alias: &str) -> anyhow::Result<Vec<ItemRecord>> {
    let Some(settings) = config
        .libraries
        .iter()
        .find(|l| l.alias.eq_ignore_ascii_case(alias))
    else {
        let known: Vec<&str> = config.libraries.iter().map(|l| l.alias.as_str()).collect();
        anyhow::bail!(
            "no library has the alias {alias:?} (known aliases: {})",
            known.join(", ")
        );
    };
    let root = settings.resolved_path(&config.data_dir);
    let library = Library::open(root.clone(), settings.clone())
        .with_context(|| format!("library {:?} at {}", settings.name, root.display()))?;
    Ok(library.items()?)
}

/// Messages in quarantine, oldest first.
pub fn quarantine(config: &ConfigFile) -> anyhow::Result<Vec<QuarantineEntry>> {
    let dir = config.quarantine.resolved_path(&config.data_dir);
    Ok(Quarantine::open(dir)?.list()?)
}

/// A plain table of items for people.
pub fn items_table(items: &[ItemRecord]) -> String {
    let mut out = format!(
        "{:<25}  {:<16}  {:<30}  {:<40}  FILES\n",
        "RECEIVED", "KEY", "FROM", "SUBJECT"
    );
    for i in items {
        out.push_str(&format!(
            "{:<25}  {:<16}  {:<30}  {:<40}  {}\n",
            clip(&i.meta.received, 25),
            &i.meta.message_key.short(),
            clip(i.meta.headers.from.as_deref().unwrap_or("-"), 30),
            clip(
                i.meta.headers.subject.as_deref().unwrap_or("(no subject)"),
                40
            ),
            i.files.join(", ")
        ));
    }
    out
}

/// A plain table of quarantined messages for people.
pub fn quarantine_table(entries: &[QuarantineEntry]) -> String {
    let mut out = format!(
        "{:<25}  {:<20}  {:<45}  REASON\n",
        "QUARANTINED", "CODE", "FILE"
    );
    for e in entries {
        out.push_str(&format!(
            "{:<25}  {:<20}  {:<45}  {}\n",
            clip(&e.quarantined_at, 25),
            e.code,
            clip(&e.file, 45),
            e.reason
        ));
    }
    out
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut c: String = s.chars().take(n.saturating_sub(1)).collect();
        c.push('…');
        c
    }
}
