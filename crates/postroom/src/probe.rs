//! What this node tells status and readiness about itself
//! ([`postroom_api::NodeProbe`]): its drop folder (backlog, last scan error)
//! whether its SMTP listener is still serving, and whether it is stopping. Both start only once the
//! farm's configuration is known, so they are filled in when they do.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use postroom_api::{NodeProbe, NodeReport};
use postroom_dropfolder::DropFolder;
use tokio_util::sync::CancellationToken;

/// The node's facts; cheap to ask.
#[derive(Default)]
pub struct NodeFacts {
    drop: OnceLock<(DropFolder, PathBuf)>,
    smtp: OnceLock<(String, CancellationToken)>,
    smtp_enabled: bool,
    stopping: AtomicBool,
}

impl NodeFacts {
    pub fn new(smtp_enabled: bool) -> Self {
        NodeFacts {
            smtp_enabled,
            ..NodeFacts::default()
        }
    }

    /// The drop folder is being watched.
    pub fn drop_folder_started(&self, drop: DropFolder, path: PathBuf) {
        let _ = self.drop.set((drop, path));
    }

    /// The node was told to stop: it is not ready any more.
    pub fn stopping(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    /// The SMTP listener serves at `address` until `ended` is cancelled.
    pub fn smtp_started(&self, address: String, ended: CancellationToken) {
        let _ = self.smtp.set((address, ended));
    }
}

impl NodeProbe for NodeFacts {
    fn report(&self) -> NodeReport {
        let mut report = NodeReport {
            stopping: self.stopping.load(Ordering::Relaxed),
            ..NodeReport::default()
        };
        match self.drop.get() {
            Some((drop, path)) => {
                let status = drop.status();
                report.drop_folder = path.display().to_string();
                report.drop_folder_backlog = u64::try_from(status.backlog).unwrap_or(u64::MAX);
                report.drop_folder_error = status.last_error;
            }
            None => {
                report.drop_folder_error = Some(
                    "drop folder not watched yet (waiting for the farm's configuration)".into(),
                )
            }
        }
        if self.smtp_enabled {
            match self.smtp.get() {
                Some((address, ended)) => {
                    report.smtp_listen = Some(address.clone());
                    report.smtp_listening = !ended.is_cancelled();
                }
                None => report.smtp_listen = Some("(not started)".into()),
            }
        }
        report
    }
}
