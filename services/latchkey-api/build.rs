//! Compiles `proto/` with protox (a pure-Rust protobuf compiler), so a fresh machine
//! needs no `protoc` binary, then generates prost messages and tonic stubs.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = "../../proto";
    let files = [
        "../../proto/latchkey/v1/authority.proto",
        "../../proto/latchkey/v1/admin.proto",
    ];
    let descriptors = protox::compile(files, [proto_root])?;
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("latchkey_descriptor.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )?;
    tonic_prost_build::configure()
        // Undecodable requests are the caller's fault: see src/codec.rs.
        .codec_path("crate::codec::ProtoCodec")
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    println!("cargo:rerun-if-changed={proto_root}");
    Ok(())
}
