//! STARTTLS: the rustls server configuration from the administrator's PEM
//! certificate and key, or a self-signed certificate for the node's host
//! name generated at start when none is configured.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::SmtpError;

/// Where the certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateSource<'a> {
    /// PEM files (chain, key).
    Files {
        certificate: &'a Path,
        key: &'a Path,
    },
    /// Generate a self-signed certificate for this host name.
    SelfSigned { hostname: &'a str },
}

/// Build the TLS acceptor used after `STARTTLS`.
pub fn acceptor(source: CertificateSource<'_>) -> Result<TlsAcceptor, SmtpError> {
    let described = match &source {
        CertificateSource::Files { certificate, key } => format!(
            "certificate {} with key {}",
            certificate.display(),
            key.display()
        ),
        CertificateSource::SelfSigned { hostname } => {
            format!("self-signed certificate for {hostname:?}")
        }
    };
    let (chain, key) = match source {
        CertificateSource::Files { certificate, key } => (load_chain(certificate)?, load_key(key)?),
        CertificateSource::SelfSigned { hostname } => self_signed(hostname)?,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|e| SmtpError::Tls {
            reason: format!("{described}: {e}"),
        })?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn load_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, SmtpError> {
    let bad = |reason: String| SmtpError::TlsFile {
        path: path.to_path_buf(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let chain = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if chain.is_empty() {
        return Err(bad("no PEM certificate in the file".into()));
    }
    Ok(chain)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, SmtpError> {
    let bad = |reason: String| SmtpError::TlsFile {
        path: path.to_path_buf(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|e| bad(e.to_string()))?
        .ok_or_else(|| bad("no PEM private key (PKCS#8, PKCS#1 or SEC1) in the file".into()))
}

type Identity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

fn self_signed(hostname: &str) -> Result<Identity, SmtpError> {
    let generated =
        rcgen::generate_simple_self_signed(vec![hostname.to_string()]).map_err(|e| {
            SmtpError::Tls {
                reason: format!("cannot generate a certificate for {hostname:?}: {e}"),
            }
        })?;
    let key = PrivateKeyDer::try_from(generated.key_pair.serialize_der()).map_err(|e| {
        SmtpError::Tls {
            reason: e.to_string(),
        }
    })?;
    Ok((vec![generated.cert.der().clone()], key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_and_files() {
        acceptor(CertificateSource::SelfSigned {
            hostname: "node1.farm.test",
        })
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let generated = rcgen::generate_simple_self_signed(vec!["mx.test".into()]).unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, generated.cert.pem()).unwrap();
        std::fs::write(&key, generated.key_pair.serialize_pem()).unwrap();
        acceptor(CertificateSource::Files {
            certificate: &cert,
            key: &key,
        })
        .unwrap();
        let err = acceptor(CertificateSource::Files {
            certificate: &key,
            key: &key,
        })
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("cert.pem") || err.contains("key.pem"), "{err}");
        assert!(err.contains("no PEM certificate"), "{err}");
        let missing = dir.path().join("missing.pem");
        let err = acceptor(CertificateSource::Files {
            certificate: &missing,
            key: &key,
        })
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("missing.pem"), "{err}");
    }
}
