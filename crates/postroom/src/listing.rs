//! `postroom quarantine list`: reads the node's quarantine folder directly,
//! so it works while the node runs (and when it is down).

use postroom_core::config::ConfigFile;
use postroom_library::{Quarantine, QuarantineEntry};

/// Messages in quarantine, oldest first.
pub fn quarantine(config: &ConfigFile) -> anyhow::Result<Vec<QuarantineEntry>> {
    let dir = config.quarantine.resolved_path(&config.data_dir);
    Ok(Quarantine::open(dir)?.list()?)
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
