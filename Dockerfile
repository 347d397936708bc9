# syntax=docker/dockerfile:1
# Multi-stage build: compile the host and the guest with the full toolchain, compile the
# guest to native code ahead of time (for the baseline x86-64 CPU, so it loads on any
# node), and ship only those artifacts on a distroless base (glibc, no shell, non-root).
# The first `host run` in a new pod then starts without compiling anything.
# The script runtimes are built from this repository's sources with pinned tools
# (runtimes/build.sh): componentize-js from runtimes/js/package-lock.json on Node, and
# componentize-py from PyPI.
FROM node:20-bookworm AS runtimes
RUN apt-get update && apt-get install -y --no-install-recommends python3-pip \
 && python3 -m pip install --break-system-packages componentize-py==0.25.1
WORKDIR /src
COPY wit wit
COPY runtimes runtimes
RUN runtimes/build.sh /out/runtimes

FROM rust:1.95-bookworm AS build
WORKDIR /src
RUN rustup target add wasm32-wasip2
COPY . .
COPY --from=runtimes /out/runtimes/python.wasm /out/runtimes/js.wasm /out/runtimes/
RUN cargo build --release -p kubewasm-host --bin host \
 && cargo build --release --target wasm32-wasip2 -p kubewasm-guest \
 && target/release/host compile --out-dir /out/precompiled target/wasm32-wasip2/release/guest.wasm \
 && target/release/host compile --out-dir /out/precompiled /out/runtimes/python.wasm \
 && target/release/host compile --out-dir /out/precompiled /out/runtimes/js.wasm

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/host /usr/local/bin/host
COPY --from=build /src/target/wasm32-wasip2/release/guest.wasm /opt/kubewasm/guest.wasm
# `host run SCRIPT.py|SCRIPT.js` runs scripts in these (precompiled below, like the guest).
COPY --from=build /out/runtimes /opt/kubewasm/runtimes
ENV KUBEWASM_RUNTIME_DIR=/opt/kubewasm/runtimes
# Native code for the guest and the runtimes above, owned by root and read-only for the runtime user:
# `host run` loads a guest from here when its BLAKE3 hash matches (KUBEWASM_PRECOMPILED_DIR).
COPY --from=build /out/precompiled /opt/kubewasm/precompiled
ENV KUBEWASM_PRECOMPILED_DIR=/opt/kubewasm/precompiled
# Other guests are compiled once and cached here; mount an emptyDir (see deploy/job.yaml),
# never over /opt/kubewasm.
ENV KUBEWASM_CACHE_DIR=/var/cache/kubewasm
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/host"]
CMD ["run", "--in-cluster", "/opt/kubewasm/guest.wasm", "version"]
