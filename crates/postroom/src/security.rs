//! The node's credentials, read when the configuration is loaded: the admin
//! token and the farm's secret (inline or from their `*_file`, trimmed, not
//! empty), the TLS certificate, key and CA (PEM, checked), and what they
//! become on the gRPC port: the server's TLS configuration, the admin
//! services' [`AdminAuth`], the Raft transport's [`PeerSecurity`], and the
//! [`Credentials`] this node presents when it calls another node's admin
//! service.

use std::path::Path;

use anyhow::{bail, Context};
use postroom_api::{AdminAuth, ClientTls, Credentials};
use postroom_cluster::PeerSecurity;
use postroom_core::config::{ClientCerts, ConfigFile, Secret};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

/// PEM files of the node's TLS identity and CA.
#[derive(Clone)]
pub struct TlsMaterial {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    pub ca_pem: Option<Vec<u8>>,
    pub client_certs: ClientCerts,
}

/// Everything secret the node needs, resolved from its configuration.
#[derive(Clone, Default)]
pub struct NodeSecurity {
    pub admin_token: Option<Secret>,
    pub peer_secret: Option<Secret>,
    pub tls: Option<TlsMaterial>,
}

impl std::fmt::Debug for NodeSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeSecurity")
            .field("admin_token", &self.admin_token)
            .field("peer_secret", &self.peer_secret)
            .field("tls", &self.tls.as_ref().map(|t| t.client_certs))
            .finish()
    }
}

/// A secret given inline, or read from `file` (trimmed; must be a valid secret).
fn resolve(
    inline: Option<&Secret>,
    file: Option<&Path>,
    file_key: &str,
) -> anyhow::Result<Option<Secret>> {
    let Some(path) = file else {
        return Ok(inline.cloned());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{file_key} {}: cannot read it", path.display()))?;
    let secret = Secret::new(&text);
    if let Some(problem) = secret.problem(&format!("{file_key} {}", path.display())) {
        bail!("{problem}");
    }
    Ok(Some(secret))
}

fn read_pem(key: &str, path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("{key} {}: cannot read it", path.display()))
}

fn check_certificates(key: &str, path: &Path, pem: &[u8]) -> anyhow::Result<()> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(pem).collect();
    match certs {
        Ok(certs) if !certs.is_empty() => Ok(()),
        Ok(_) => bail!("{key} {}: no PEM certificate in it", path.display()),
        Err(e) => bail!("{key} {}: not a PEM certificate: {e}", path.display()),
    }
}

impl NodeSecurity {
    /// Read the token and secret files and the TLS files of a validated config.
    pub fn load(config: &ConfigFile) -> anyhow::Result<NodeSecurity> {
        let admin_token = resolve(
            config.admin.token.as_ref(),
            config.admin.token_file.as_deref(),
            "admin.token_file",
        )?;
        let peer_secret = resolve(
            config.cluster.secret.as_ref(),
            config.cluster.secret_file.as_deref(),
            "cluster.secret_file",
        )?;
        let tls = match (&config.tls.cert_file, &config.tls.key_file) {
            (Some(cert_file), Some(key_file)) => {
                let cert_pem = read_pem("tls.cert_file", cert_file)?;
                check_certificates("tls.cert_file", cert_file, &cert_pem)?;
                let key_pem = read_pem("tls.key_file", key_file)?;
                PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
                    anyhow::anyhow!(
                        "tls.key_file {}: not a PEM private key: {e}",
                        key_file.display()
                    )
                })?;
                let ca_pem = match &config.tls.ca_file {
                    Some(ca_file) => {
                        let pem = read_pem("tls.ca_file", ca_file)?;
                        check_certificates("tls.ca_file", ca_file, &pem)?;
                        Some(pem)
                    }
                    None => None,
                };
                Some(TlsMaterial {
                    cert_pem,
                    key_pem,
                    ca_pem,
                    client_certs: config.tls.client_certs,
                })
            }
            _ => None,
        };
        let security = NodeSecurity {
            admin_token,
            peer_secret,
            tls,
        };
        // Builds the TLS acceptor: a key that does not fit its certificate is found now.
        security.grpc_server()?;
        Ok(security)
    }

    fn client_certs(&self) -> ClientCerts {
        self.tls
            .as_ref()
            .map_or(ClientCerts::None, |t| t.client_certs)
    }

    /// How this node dials its peers: their CA, its own certificate.
    fn client_tls(&self) -> Option<ClientTls> {
        self.tls.as_ref().map(|t| ClientTls {
            ca_pem: t.ca_pem.clone(),
            identity: Some((t.cert_pem.clone(), t.key_pem.clone())),
            domain: None,
        })
    }

    /// The Raft transport's security: the secret both ways, TLS to peers,
    /// a client certificate required of peers when there is no secret and
    /// the TLS layer asks for certificates.
    pub fn peer(&self) -> PeerSecurity {
        PeerSecurity {
            secret: self.peer_secret.clone(),
            tls: self.client_tls(),
            require_client_cert: self.client_certs() != ClientCerts::None,
        }
    }

    /// The interceptor of every admin service.
    pub fn admin_auth(&self) -> AdminAuth {
        AdminAuth::new(
            self.admin_token.clone(),
            self.peer_secret.clone(),
            self.client_certs() == ClientCerts::Required,
        )
    }

    /// What this node presents to another node's admin service (join
    /// checks): the farm's secret as bearer token (else its own admin
    /// token, for farms that share one), its own certificate.
    pub fn peer_credentials(&self) -> Credentials {
        Credentials {
            token: self
                .peer_secret
                .as_ref()
                .or(self.admin_token.as_ref())
                .map(|s| s.expose().to_string()),
            actor: None,
            tls: self.client_tls(),
        }
    }

    /// The gRPC server builder, with TLS (and client certificates) when configured.
    pub fn grpc_server(&self) -> anyhow::Result<Server> {
        let Some(tls) = &self.tls else {
            return Ok(Server::builder());
        };
        let mut config =
            ServerTlsConfig::new().identity(Identity::from_pem(&tls.cert_pem, &tls.key_pem));
        if let (Some(ca), true) = (&tls.ca_pem, tls.client_certs != ClientCerts::None) {
            config = config
                .client_ca_root(Certificate::from_pem(ca))
                .client_auth_optional(tls.client_certs == ClientCerts::Optional);
        }
        Server::builder()
            .tls_config(config)
            .context("tls: cannot use the certificate and key of tls.cert_file / tls.key_file")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn secrets_come_from_files_trimmed_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "admin-token-0123456789\n").unwrap();
        let mut config = ConfigFile::embedded_defaults();
        config.admin.token_file = Some(token.clone());
        config.cluster.secret = Some(Secret::new("farm-secret-0123456789"));
        let loaded = NodeSecurity::load(&config).unwrap();
        assert_eq!(
            loaded.admin_token.as_ref().map(Secret::expose),
            Some("admin-token-0123456789")
        );
        assert_eq!(
            loaded.peer_credentials().token.as_deref(),
            Some("farm-secret-0123456789")
        );
        assert!(!format!("{loaded:?}").contains("0123456789"));

        std::fs::write(&token, " \n").unwrap();
        let err = NodeSecurity::load(&config).unwrap_err().to_string();
        assert_eq!(
            err,
            format!("admin.token_file {}: must not be empty", token.display())
        );
        config.admin.token_file = Some(dir.path().join("missing"));
        let err = NodeSecurity::load(&config).unwrap_err().to_string();
        assert!(err.starts_with("admin.token_file "), "{err}");
        assert!(err.ends_with("missing: cannot read it"), "{err}");
    }

    #[test]
    fn tls_files_must_hold_pem() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not pem").unwrap();
        let mut config = ConfigFile::embedded_defaults();
        config.tls.cert_file = Some(junk.clone());
        config.tls.key_file = Some(junk.clone());
        let err = NodeSecurity::load(&config).unwrap_err().to_string();
        assert_eq!(
            err,
            format!("tls.cert_file {}: no PEM certificate in it", junk.display())
        );

        // A certificate with the key of another one is refused at load.
        let issue = || {
            let key = rcgen::KeyPair::generate().unwrap();
            let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
            (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
        };
        let ((cert, key), (_, other_key)) = (issue(), issue());
        let cert_file = dir.path().join("cert.pem");
        let key_file = dir.path().join("key.pem");
        std::fs::write(&cert_file, cert).unwrap();
        std::fs::write(&key_file, key).unwrap();
        config.tls.cert_file = Some(cert_file);
        config.tls.key_file = Some(key_file.clone());
        let loaded = NodeSecurity::load(&config).unwrap();
        assert!(loaded.peer().tls.is_some());
        assert!(!loaded.peer().require_client_cert);
        std::fs::write(&key_file, other_key).unwrap();
        let err = format!("{:#}", NodeSecurity::load(&config).unwrap_err());
        assert!(err.starts_with("tls: cannot use the certificate"), "{err}");
    }
}
