//! Compiles the admin protocol (`proto/postroom/admin/v1/*.proto`) with
//! protox (no system `protoc`), generates the tonic clients and servers, and
//! writes the encoded descriptor set that gRPC reflection serves.

use std::error::Error;
use std::path::PathBuf;

use prost::Message as _;

const FILES: [&str; 4] = [
    "postroom/admin/v1/cluster.proto",
    "postroom/admin/v1/farm.proto",
    "postroom/admin/v1/library.proto",
    "postroom/admin/v1/message.proto",
];

fn main() -> Result<(), Box<dyn Error>> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let proto_root = manifest.join("../../proto");
    for file in FILES {
        println!("cargo:rerun-if-changed={}", proto_root.join(file).display());
    }
    let fds = protox::compile(FILES, [&proto_root])?;
    std::fs::write(out_dir.join("admin_descriptor.bin"), fds.encode_to_vec())?;
    // Every message serializes to JSON for the CLI's `--json` (field names as in the protocol).
    tonic_prost_build::configure()
        .type_attribute(".postroom.admin.v1", "#[derive(serde::Serialize)]")
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
