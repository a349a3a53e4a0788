# syntax=docker/dockerfile:1
# Latchkey's container image: built in a Rust image, run from distroless (no shell, no
# package manager) as a non-root user. Nothing is written inside the image at run
# time, so it runs with a read-only root filesystem; configuration comes from
# LATCHKEY_* variables and a mounted latchkey.toml (see helm/latchkey).

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# --locked: the image builds exactly what Cargo.lock pins. Cache mounts keep the
# registry and target folder between builds without putting them in a layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --locked --release -p latchkey-server --bin latchkey \
    && install -D -m 0755 target/release/latchkey /out/latchkey

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/latchkey /usr/local/bin/latchkey
# 65532 is distroless' nonroot user; the chart runs as the same uid.
USER 65532:65532
WORKDIR /tmp
EXPOSE 50051 8080 9090
ENTRYPOINT ["/usr/local/bin/latchkey"]
CMD ["serve"]
