# syntax=docker/dockerfile:1
# The `strait` image: `docker build -t ghcr.io/strait-dev/strait:0.1.0 .`
# deploy/base/30-deployment.yaml runs it; controller/tests/deploy checks that the two agree
# (binary name, default command, ports, user).

# Build: the release binary only, against the committed Cargo.lock. The registry cache mount
# keeps downloaded crates between builds; target/ stays in the layer so COPY can reach it.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    cargo build --release --locked -p strait-controller --bin strait

# Run: distroless with glibc and CA certificates, no shell, no package manager; the
# `nonroot` tag's user is 65532:65532. TLS is rustls, so no libssl is needed.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/strait /usr/local/bin/strait
USER 65532:65532
# http, https, admin (/healthz, /readyz, /metrics): the binary's default listeners, except
# that the admin listener defaults to loopback (the Deployment passes --admin-addr).
EXPOSE 8080 8443 10254
# The entrypoint is `strait controller`; other subcommands need `--entrypoint /usr/local/bin/strait`.
ENTRYPOINT ["/usr/local/bin/strait", "controller"]
