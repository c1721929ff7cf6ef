//! gRPC server reflection (v1 and v1alpha) for the admin and health
//! services, so that standard tools (grpcurl, Postman, grpcui) can list and
//! call them without the `.proto` files.

use tonic_reflection::server::v1::{ServerReflection, ServerReflectionServer};
use tonic_reflection::server::v1alpha::{
    ServerReflection as ServerReflectionAlpha,
    ServerReflectionServer as ServerReflectionAlphaServer,
};

use crate::error::ApiError;

fn builder() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
}

/// The two reflection services to mount (grpcurl 1.8 speaks v1alpha, newer
/// clients v1).
pub fn reflection_services() -> Result<
    (
        ServerReflectionServer<impl ServerReflection>,
        ServerReflectionAlphaServer<impl ServerReflectionAlpha>,
    ),
    ApiError,
> {
    let failed = |e: tonic_reflection::server::Error| ApiError::Unavailable {
        detail: format!("cannot build the reflection service: {e}"),
    };
    Ok((
        builder().build_v1().map_err(failed)?,
        builder().build_v1alpha().map_err(failed)?,
    ))
}
