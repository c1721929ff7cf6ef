//! Test certificates made with rcgen: a CA, one certificate for every test
//! node address (127.0.0.1-6 and localhost; server and client use), and a
//! client certificate for the CLI, as PEM files, with the config and flags
//! that use them.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

use super::cluster::node_ip;

/// Write `text` to `dir/name`.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A CA, a certificate for every test node address (server and client
/// use), and a client certificate, as PEM files in `dir`.
pub struct Pki {
    pub ca: PathBuf,
    pub node_cert: PathBuf,
    pub node_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl Pki {
    pub fn new(dir: &Path) -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca.distinguished_name
            .push(DnType::CommonName, "postroom test CA");
        let ca = ca.self_signed(&ca_key).unwrap();
        let issue = |names: Vec<String>, name: &str| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(names).unwrap();
            params.distinguished_name.push(DnType::CommonName, name);
            params.extended_key_usages = vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ];
            let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
            (
                write(dir, &format!("{name}.pem"), &cert.pem()),
                write(dir, &format!("{name}.key"), &key.serialize_pem()),
            )
        };
        let mut names: Vec<String> = (0..=5).map(node_ip).collect();
        names.push("localhost".to_string());
        let (node_cert, node_key) = issue(names, "node");
        let (client_cert, client_key) = issue(Vec::new(), "admin");
        Pki {
            ca: write(dir, "ca.pem", &ca.pem()),
            node_cert,
            node_key,
            client_cert,
            client_key,
        }
    }

    /// The `[tls]` table of a node that requires client certificates.
    pub fn node_config(&self) -> String {
        format!(
            "[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\nca_file = \"{}\"\nclient_certs = \"required\"\n",
            self.node_cert.display(),
            self.node_key.display(),
            self.ca.display()
        )
    }

    /// The CLI's TLS flags with the client certificate.
    pub fn client_args(&self) -> Vec<String> {
        [
            ("--ca-file", &self.ca),
            ("--cert-file", &self.client_cert),
            ("--key-file", &self.client_key),
        ]
        .iter()
        .flat_map(|(flag, path)| [flag.to_string(), path.display().to_string()])
        .collect()
    }
}
