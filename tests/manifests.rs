//! The shipped deployment files are valid: the Kubernetes manifest against
//! the Kubernetes schemas (`kubernetes-validate --strict`, from PyPI), and
//! the node config in its ConfigMap with `postroom config check` for every
//! node of the StatefulSet (node id from the pod ordinal, as its command
//! sets it), with the token and secret files of the mounted Secret.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// Where the pods mount the Secret with the admin token and farm secret.
const SECRETS: &str = "/etc/postroom/secrets/";

/// The literal block under `postroom.toml: |` in the ConfigMap, with the
/// Secret's files (which `config check` reads) made in `dir` instead.
fn configmap_toml(manifest: &str, dir: &Path) -> String {
    let secrets = dir.join("secrets");
    std::fs::create_dir_all(&secrets).unwrap();
    for key in ["admin-token", "farm-secret"] {
        std::fs::write(secrets.join(key), format!("{key}-0123456789abcdef\n")).unwrap();
    }
    literal_block(manifest, "postroom.toml: |").replace(SECRETS, &format!("{}/", secrets.display()))
}

/// The literal block (`|`) after the first line that reads `marker` (trimmed).
fn literal_block(manifest: &str, marker: &str) -> String {
    let mut lines = manifest.lines().skip_while(|l| l.trim() != marker);
    lines.next().expect("the marker line");
    let indent = lines
        .clone()
        .find(|l| !l.trim().is_empty())
        .map_or(0, |l| l.len() - l.trim_start().len());
    lines
        .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() >= indent)
        .map(|l| l.get(indent..).unwrap_or("").to_string() + "\n")
        .collect()
}

#[test]
fn the_kubernetes_manifest_passes_the_schemas() {
    let out = Command::new("kubernetes-validate")
        .args(["--strict", "--quiet"])
        .arg(repo("k8s/postroom.yaml"))
        .output()
        .expect("kubernetes-validate is installed (pip install kubernetes-validate)");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_statefulset_config_is_valid_on_every_node() {
    let manifest = std::fs::read_to_string(repo("k8s/postroom.yaml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let toml = configmap_toml(&manifest, dir.path());
    assert!(toml.contains("[cluster]"), "{toml}");
    // The token and the secret are files of the mounted Secret, and are never printed.
    let configured = literal_block(&manifest, "postroom.toml: |");
    for key in [
        "secret_file = \"/etc/postroom/secrets/farm-secret\"",
        "token_file = \"/etc/postroom/secrets/admin-token\"",
    ] {
        assert!(configured.contains(key), "{key} missing in\n{configured}");
    }
    assert!(manifest.contains("mountPath: /etc/postroom/secrets"));
    assert!(manifest.contains("secretName: postroom-secrets"));
    let config = dir.path().join("postroom.toml");
    std::fs::write(&config, &toml).unwrap();
    for node_id in ["1", "2", "3"] {
        let out = Command::new(env!("CARGO_BIN_EXE_postroom"))
            .args(["config", "check", "--config"])
            .arg(&config)
            .env("POSTROOM_NODE_ID", node_id)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "node {node_id}: {stderr}\n{toml}");
        let checked = String::from_utf8_lossy(&out.stdout);
        assert!(
            checked.contains(&format!("node_id = {node_id}")),
            "{checked}"
        );
        assert!(!checked.contains("0123456789abcdef"), "{checked}");
    }
}

#[test]
fn the_pod_command_takes_the_node_id_from_the_ordinal_and_refuses_other_names() {
    let manifest = std::fs::read_to_string(repo("k8s/postroom.yaml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("postroom.toml");
    std::fs::write(&config, configmap_toml(&manifest, dir.path())).unwrap();
    // The container's script, with the real binary checking the config instead of serving.
    let script = literal_block(&manifest, "- |").replace(
        "exec /usr/local/bin/postroom serve --config /etc/postroom/postroom.toml",
        &format!(
            "exec {} config check --config {}",
            env!("CARGO_BIN_EXE_postroom"),
            config.display()
        ),
    );
    assert!(script.contains("config check"), "{script}");
    let run = |hostname: &str| {
        Command::new("/bin/sh")
            .args(["-c", &script])
            .env("HOSTNAME", hostname)
            .env_remove("POSTROOM_NODE_ID")
            .output()
            .unwrap()
    };
    let out = run("postroom-2");
    let checked = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(checked.contains("node_id = 3"), "{checked}");
    let out = run("postroom");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("cannot take a node id from HOSTNAME=postroom"));
}
