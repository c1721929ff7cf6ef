//! Who may call the admin services: [`AdminAuth`], the one interceptor put
//! in front of every `postroom.admin.v1.*` service. With an admin token
//! configured, a call needs `authorization: Bearer <token>` carrying the
//! admin token or the farm's secret (nodes call each other with the
//! secret); without one, a node that requires client certificates lets in
//! callers whose certificate the TLS layer verified, and a loopback-only
//! node lets everyone in. Refusals are `UNAUTHENTICATED`, logged at warn
//! with the caller's address (never the token). `grpc.health.v1` is not
//! behind it, so probes work without credentials.

use postroom_core::security::Secret;
use tonic::{Request, Status};

/// What a call without a bearer token is told.
pub const MISSING_TOKEN: &str =
    "this node requires a bearer token: pass --token or --token-file (or set POSTROOM_TOKEN)";
/// What a call with a token that is neither the admin token nor the farm secret is told.
pub const WRONG_TOKEN: &str = "the bearer token is not valid for this farm";
/// What a call without a client certificate is told when one is required.
pub const MISSING_CERTIFICATE: &str = "this node requires a client certificate signed by its CA: pass --cert-file and --key-file (and --ca-file)";

/// The admin services' interceptor: `InterceptedService::new(service, auth.clone())`.
#[derive(Clone, Debug, Default)]
pub struct AdminAuth {
    token: Option<Secret>,
    peer_secret: Option<Secret>,
    require_client_cert: bool,
}

impl AdminAuth {
    /// Require `token` (when set; the farm's `peer_secret` is accepted too),
    /// else a verified client certificate when `require_client_cert`, else
    /// nothing.
    pub fn new(
        token: Option<Secret>,
        peer_secret: Option<Secret>,
        require_client_cert: bool,
    ) -> AdminAuth {
        AdminAuth {
            token,
            peer_secret,
            require_client_cert,
        }
    }

    /// Whether `request` may call an admin service; the refusal says why.
    fn check<T>(&self, request: &Request<T>) -> Result<(), Status> {
        if let Some(token) = &self.token {
            let Some(given) = request.metadata().get("authorization") else {
                return Err(Status::unauthenticated(MISSING_TOKEN));
            };
            let bearer = given.to_str().ok().and_then(|value| {
                let (scheme, token) = value.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            });
            let Some(bearer) = bearer else {
                return Err(Status::unauthenticated(MISSING_TOKEN));
            };
            let secret_matches = self.peer_secret.as_ref().is_some_and(|s| s.matches(bearer));
            // Both compared, so the time taken does not say which one matched.
            return if token.matches(bearer) | secret_matches {
                Ok(())
            } else {
                Err(Status::unauthenticated(WRONG_TOKEN))
            };
        }
        let has_cert = request.peer_certs().is_some_and(|certs| !certs.is_empty());
        if self.require_client_cert && !has_cert {
            return Err(Status::unauthenticated(MISSING_CERTIFICATE));
        }
        Ok(())
    }
}

impl tonic::service::Interceptor for AdminAuth {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        match self.check(&request) {
            Ok(()) => Ok(request),
            Err(status) => {
                let peer = request
                    .remote_addr()
                    .map_or_else(|| "unknown".to_string(), |a| a.to_string());
                tracing::warn!(%peer, reason = status.message(), "refused an admin call");
                Err(status)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use tonic::service::Interceptor;
    use tonic::Code;

    use super::*;

    const TOKEN: &str = "admin-token-0123456789";
    const SECRET: &str = "farm-secret-0123456789";

    fn call(auth: &mut AdminAuth, authorization: Option<&str>) -> Result<(), Status> {
        let mut request = Request::new(());
        if let Some(value) = authorization {
            request
                .metadata_mut()
                .insert("authorization", value.parse().unwrap());
        }
        auth.call(request).map(|_| ())
    }

    #[test]
    fn a_token_is_required_when_configured() {
        let mut auth = AdminAuth::new(Some(Secret::new(TOKEN)), Some(Secret::new(SECRET)), false);
        for (given, expected) in [
            (None, Some(MISSING_TOKEN)),
            (Some(TOKEN), Some(MISSING_TOKEN)),
            (Some("Basic YWRtaW4="), Some(MISSING_TOKEN)),
            (Some("Bearer admin-token-0123456788"), Some(WRONG_TOKEN)),
            (Some("Bearer "), Some(MISSING_TOKEN)),
            (Some("Bearer admin-token-0123456789"), None),
            (Some("bearer  admin-token-0123456789 "), None),
            // Nodes call each other with the farm's secret.
            (Some("Bearer farm-secret-0123456789"), None),
        ] {
            let result = call(&mut auth, given);
            match expected {
                None => assert!(result.is_ok(), "{given:?}: {result:?}"),
                Some(message) => {
                    let status = result.unwrap_err();
                    assert_eq!(status.code(), Code::Unauthenticated, "{given:?}");
                    assert_eq!(status.message(), message, "{given:?}");
                }
            }
        }
    }

    #[test]
    fn without_a_token_the_certificate_or_nothing_is_required() {
        let mut open = AdminAuth::default();
        assert!(call(&mut open, None).is_ok());
        assert!(call(&mut open, Some("Bearer whatever")).is_ok());
        // A farm secret alone does not close the admin API (loopback exemption).
        let mut secret_only = AdminAuth::new(None, Some(Secret::new(SECRET)), false);
        assert!(call(&mut secret_only, None).is_ok());
        let mut mtls = AdminAuth::new(None, None, true);
        let status = call(&mut mtls, Some("Bearer farm-secret-0123456789")).unwrap_err();
        assert_eq!(
            (status.code(), status.message()),
            (Code::Unauthenticated, MISSING_CERTIFICATE)
        );
    }
}
