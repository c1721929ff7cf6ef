//! Connection limits: how many sessions run at once, in all and per client
//! IP. A ticket is held for a connection's life and gives its place back
//! when dropped. No IO.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// Counts open connections against the limits.
#[derive(Debug, Clone)]
pub struct ConnectionGate {
    max_total: usize,
    max_per_ip: usize,
    counts: Arc<Mutex<Counts>>,
}

/// A connection's place; released on drop.
#[derive(Debug)]
pub struct Ticket {
    ip: IpAddr,
    counts: Arc<Mutex<Counts>>,
}

impl ConnectionGate {
    pub fn new(max_total: usize, max_per_ip: usize) -> Self {
        ConnectionGate {
            max_total,
            max_per_ip,
            counts: Arc::default(),
        }
    }

    /// A place for a connection from `ip`, or why there is none (for the `421 4.3.2` reply).
    pub fn enter(&self, ip: IpAddr) -> Result<Ticket, String> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if counts.total >= self.max_total {
            return Err(format!("too many connections ({} in all)", self.max_total));
        }
        let from_ip = counts.per_ip.get(&ip).copied().unwrap_or(0);
        if from_ip >= self.max_per_ip {
            return Err(format!(
                "too many connections from {ip} ({})",
                self.max_per_ip
            ));
        }
        counts.total += 1;
        counts.per_ip.insert(ip, from_ip + 1);
        Ok(Ticket {
            ip,
            counts: self.counts.clone(),
        })
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.per_ip.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.per_ip.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_in_all_and_per_ip_and_release_on_drop() {
        let gate = ConnectionGate::new(3, 2);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let a1 = gate.enter(a).unwrap();
        let _a2 = gate.enter(a).unwrap();
        assert!(gate.enter(a).unwrap_err().contains("from 127.0.0.1"));
        let _b1 = gate.enter(b).unwrap();
        assert!(gate.enter(b).unwrap_err().contains("in all"));
        drop(a1);
        let _a3 = gate.enter(a).unwrap();
        assert!(gate.enter(b).unwrap_err().contains("in all"));
        assert_eq!(gate.counts.lock().unwrap().per_ip.len(), 2);
    }
}
