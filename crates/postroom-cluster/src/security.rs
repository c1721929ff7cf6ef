//! Who may use a node's Raft transport, and how a node proves itself to its
//! peers: [`PeerSecurity`] (the farm's shared secret, TLS towards peers,
//! whether a client certificate is required), the endpoint of a peer
//! (`https://` with the CA and this node's certificate when TLS is on, else
//! `http://`), the client interceptor that sends the secret in the
//! `x-postroom-peer-secret` header on every call, and [`PeerAuth`], the
//! server interceptor that refuses calls without it (`UNAUTHENTICATED`).
//! The admin API's bearer token is not accepted here: it is a different
//! header and a different secret.

use std::fmt;

use postroom_core::security::Secret;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
use tonic::{Request, Status};

use crate::farm::Farm;
use crate::leader::LeaderOp;
use crate::network::peer_client;
use crate::proto::RaftRequest;
use crate::ClusterError;

/// How long [`Farm::check_peer`] waits for the node's answer.
const CHECK_WITHIN: std::time::Duration = std::time::Duration::from_secs(3);

/// The metadata key that carries the farm's shared secret on peer calls.
pub const PEER_SECRET_HEADER: &str = "x-postroom-peer-secret";

/// How a client reaches a TLS server: the CA(s) that sign the server's
/// certificate, its own certificate for mutual TLS, and the name to verify
/// (by default the host of the address dialled).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ClientTls {
    /// PEM CA certificate(s).
    pub ca_pem: Option<Vec<u8>>,
    /// PEM certificate chain and private key presented to the server.
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
    /// The name the server's certificate must carry, when not the dialled host.
    pub domain: Option<String>,
}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTls")
            .field("ca", &self.ca_pem.is_some())
            .field("client_certificate", &self.identity.is_some())
            .field("domain", &self.domain)
            .finish()
    }
}

impl ClientTls {
    /// The tonic client configuration.
    pub fn config(&self) -> ClientTlsConfig {
        let mut config = ClientTlsConfig::new();
        if let Some(ca) = &self.ca_pem {
            config = config.ca_certificate(Certificate::from_pem(ca));
        }
        if let Some((cert, key)) = &self.identity {
            config = config.identity(Identity::from_pem(cert, key));
        }
        if let Some(domain) = &self.domain {
            config = config.domain_name(domain.clone());
        }
        config
    }
}

/// How this node authenticates to its peers and what it requires of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerSecurity {
    /// The farm's shared secret (`cluster.secret`): sent on every peer call,
    /// required on every incoming Raft call when set.
    pub secret: Option<Secret>,
    /// TLS towards peers (their endpoints are dialled with `https://`).
    pub tls: Option<ClientTls>,
    /// Without a secret, incoming Raft calls must come with a client
    /// certificate the TLS layer verified (`tls.client_certs`).
    pub require_client_cert: bool,
}

impl PeerSecurity {
    /// The server interceptor of the Raft service.
    pub fn auth(&self) -> PeerAuth {
        PeerAuth {
            secret: self.secret.clone(),
            require_client_cert: self.require_client_cert,
        }
    }

    /// The client interceptor that sends the secret, if any.
    pub(crate) fn sender(&self) -> Result<AddPeerSecret, ClusterError> {
        match &self.secret {
            None => Ok(AddPeerSecret(None)),
            Some(secret) => secret
                .expose()
                .parse()
                .map(|v| AddPeerSecret(Some(v)))
                .map_err(|_| ClusterError::Tls {
                    addr: PEER_SECRET_HEADER.to_string(),
                    detail: "the secret contains characters not allowed in a header".to_string(),
                }),
        }
    }
}

/// The endpoint of `address` (`host:port`): `https://` with `tls`, else `http://`.
pub fn endpoint(address: &str, tls: Option<&ClientTls>) -> Result<Endpoint, ClusterError> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let endpoint = Endpoint::from_shared(format!("{scheme}://{address}")).map_err(|e| {
        ClusterError::Address {
            addr: address.to_string(),
            detail: e.to_string(),
        }
    })?;
    match tls {
        None => Ok(endpoint),
        Some(tls) => endpoint
            .tls_config(tls.config())
            .map_err(|e| ClusterError::Tls {
                addr: address.to_string(),
                detail: e.to_string(),
            }),
    }
}

/// Sends the farm's shared secret on every call.
#[derive(Clone, Debug)]
pub struct AddPeerSecret(Option<MetadataValue<Ascii>>);

impl tonic::service::Interceptor for AddPeerSecret {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert(PEER_SECRET_HEADER, value.clone());
        }
        Ok(request)
    }
}

/// Refuses Raft calls that do not carry the farm's secret (when one is
/// configured) or, without a secret, a verified client certificate (when
/// required); lets everything in otherwise (a loopback-only node).
#[derive(Clone, Debug)]
pub struct PeerAuth {
    secret: Option<Secret>,
    require_client_cert: bool,
}

impl PeerAuth {
    /// Whether `request` may use the Raft service; the refusal says why.
    fn check<T>(&self, request: &Request<T>) -> Result<(), Status> {
        if let Some(secret) = &self.secret {
            return match request.metadata().get(PEER_SECRET_HEADER) {
                None => Err(Status::unauthenticated(format!(
                    "this node's raft service requires the farm's peer secret (cluster.secret) in {PEER_SECRET_HEADER}; none was sent"
                ))),
                Some(given) if given.to_str().is_ok_and(|g| secret.matches(g)) => Ok(()),
                Some(_) => Err(Status::unauthenticated(
                    "the peer secret is not this farm's cluster.secret",
                )),
            };
        }
        let has_cert = request.peer_certs().is_some_and(|certs| !certs.is_empty());
        if self.require_client_cert && !has_cert {
            return Err(Status::unauthenticated(
                "this node's raft service requires a client certificate signed by the farm's CA (tls.ca_file)",
            ));
        }
        Ok(())
    }
}

impl tonic::service::Interceptor for PeerAuth {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        match self.check(&request) {
            Ok(()) => Ok(request),
            Err(status) => {
                let peer = request
                    .remote_addr()
                    .map_or_else(|| "unknown".to_string(), |a| a.to_string());
                tracing::warn!(%peer, reason = status.message(), "refused a raft call");
                Err(status)
            }
        }
    }
}

impl Farm {
    /// Whether node `node` at `address` accepts this farm's Raft calls (the
    /// secret, the certificates): asks it for a read index, which a node
    /// outside the farm refuses as not the leader after checking who asks.
    /// Checked before a node is added, so a node with another secret is
    /// refused at once rather than after the catch-up wait.
    pub async fn check_peer(&self, node: u64, address: &str) -> Result<(), ClusterError> {
        let unreachable = |detail: String| ClusterError::Unreachable {
            node,
            address: address.to_string(),
            detail,
        };
        let mut client = peer_client(address, self.local_ip(), self.peer_security())?;
        let payload = serde_json::to_vec(&LeaderOp::ReadIndex)
            .map_err(|e| ClusterError::encode("read index request", e))?;
        let call = client.read_index(Request::new(RaftRequest { payload }));
        match tokio::time::timeout(CHECK_WITHIN, call).await {
            Err(_) => Err(unreachable("no reply in time".to_string())),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(status)) if status.code() == tonic::Code::Unauthenticated => {
                Err(ClusterError::Remote {
                    node,
                    detail: format!(
                        "its raft service refuses this farm ({}); give it the farm's cluster.secret (or a certificate of the farm's CA)",
                        status.message()
                    ),
                })
            }
            Ok(Err(status)) => Err(unreachable(format!(
                "{:?}: {}",
                status.code(),
                status.message()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use tonic::service::Interceptor;

    use super::*;

    const SECRET: &str = "farm-secret-0123456789";

    fn with(key: &'static str, value: &str) -> Request<()> {
        let mut r = Request::new(());
        r.metadata_mut().insert(key, value.parse().unwrap());
        r
    }

    #[test]
    fn raft_calls_need_the_farm_secret_not_the_admin_token() {
        let mut auth = PeerSecurity {
            secret: Some(Secret::new(SECRET)),
            ..PeerSecurity::default()
        }
        .auth();
        let missing = auth.call(Request::new(())).unwrap_err();
        assert_eq!(missing.code(), tonic::Code::Unauthenticated);
        assert!(missing.message().contains("none was sent"), "{missing:?}");
        let wrong = auth
            .call(with(PEER_SECRET_HEADER, "farm-secret-0123456788"))
            .unwrap_err();
        assert_eq!(wrong.code(), tonic::Code::Unauthenticated);
        assert_eq!(
            wrong.message(),
            "the peer secret is not this farm's cluster.secret"
        );
        // The right value as a bearer token (the admin API's header) is not the peer secret.
        let bearer = auth
            .call(with("authorization", &format!("Bearer {SECRET}")))
            .unwrap_err();
        assert_eq!(bearer.code(), tonic::Code::Unauthenticated);
        assert!(auth.call(with(PEER_SECRET_HEADER, SECRET)).is_ok());
        // What the client side sends is what the server side wants.
        let mut sender = PeerSecurity {
            secret: Some(Secret::new(SECRET)),
            ..PeerSecurity::default()
        }
        .sender()
        .unwrap();
        assert!(auth.call(sender.call(Request::new(())).unwrap()).is_ok());
    }

    #[test]
    fn without_a_secret_a_certificate_may_be_required() {
        let mut open = PeerSecurity::default().auth();
        assert!(open.call(Request::new(())).is_ok());
        let mut mtls = PeerSecurity {
            require_client_cert: true,
            ..PeerSecurity::default()
        }
        .auth();
        let refused = mtls.call(Request::new(())).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::Unauthenticated);
        assert!(
            refused.message().contains("client certificate"),
            "{refused:?}"
        );
    }

    #[test]
    fn tls_peers_are_dialled_with_https() {
        let plain = endpoint("127.0.0.2:7700", None).unwrap();
        assert_eq!(plain.uri().scheme_str(), Some("http"));
        let tls = ClientTls::default();
        let secure = endpoint("127.0.0.2:7700", Some(&tls)).unwrap();
        assert_eq!(secure.uri().scheme_str(), Some("https"));
        assert!(endpoint("not an address", None).is_err());
    }
}
