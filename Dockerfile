# syntax=docker/dockerfile:1
# Multi-stage build: compile the host and the guest with the full toolchain, ship only
# the two artifacts on a distroless base (glibc, no shell, non-root).
FROM rust:1.95-bookworm AS build
WORKDIR /src
RUN rustup target add wasm32-wasip2
COPY . .
RUN cargo build --release -p kubewasm-host --bin host \
 && cargo build --release --target wasm32-wasip2 -p kubewasm-guest

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/host /usr/local/bin/host
COPY --from=build /src/target/wasm32-wasip2/release/guest.wasm /opt/kubewasm/guest.wasm
# Compiled guests are cached here; mount an emptyDir (see deploy/job.yaml).
ENV KUBEWASM_CACHE_DIR=/var/cache/kubewasm
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/host"]
CMD ["run", "--in-cluster", "/opt/kubewasm/guest.wasm", "version"]
