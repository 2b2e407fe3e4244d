# syntax=docker/dockerfile:1
#
# The `agensium` binary in a small runtime image. One image, three roles:
#   agensium api    --listen 0.0.0.0:8080
#   agensium worker --slots N --health-listen 0.0.0.0:9090
#   agensium serve  (embedded single-process mode, data in the working directory)
# Build: docker build -t agensium .   (or `docker compose up --build`)

############################ builder ############################
# Same Debian release as the runtime stage, so the binary's glibc matches.
# The full (non-slim) image already has gcc/make, which is all the C parts
# need (rusqlite's bundled SQLite, ring, aws-lc-sys with its cc builder).
FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
# Dependency caching: BuildKit cache mounts keep the crates.io registry and
# the target directory between builds, so a source change recompiles only
# the workspace crates. The target dir is a cache mount (not part of the
# layer), hence the binary is copied out within the same RUN.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    cargo fetch --locked
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p agensium --bin agensium \
 && install -m 0755 target/release/agensium /usr/local/bin/agensium

############################ runtime ############################
FROM debian:bookworm-slim AS runtime
# ca-certificates: TLS to S3/MySQL/Redis endpoints outside the compose network.
# curl: the HEALTHCHECK below (bookworm-slim has no HTTP client; ~5 MB). We
# install it here rather than relying on compose healthchecks alone so that
# `docker run` and any orchestrator reading the image get a working health
# status too; docker-compose.yml uses the same curl with each role's exact port.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
# Non-root, numeric uid (so `runAsNonRoot`-style checks can verify it). Its
# home is the working directory: `agensium serve` writes ./agensium-data there.
RUN groupadd --system --gid 10001 agensium \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/agensium \
            --create-home --shell /usr/sbin/nologin agensium
COPY --from=builder /usr/local/bin/agensium /usr/local/bin/agensium
WORKDIR /var/lib/agensium
# Inside a container the binary's loopback defaults are useless: listen on
# all interfaces unless told otherwise (flags still win over these).
ENV AGENSIUM_LISTEN=0.0.0.0:8080 \
    AGENSIUM_HEALTH_LISTEN=0.0.0.0:9090 \
    RUST_LOG=info
USER 10001
EXPOSE 8080 9090
# The api (and serve) answer GET /healthz on 8080, a worker on its health
# address (9090): the image does not know its role, so either port will do.
# docker-compose.yml overrides this per service with the exact URL.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:8080/healthz \
     || curl -fsS -o /dev/null http://127.0.0.1:9090/healthz \
     || exit 1
ENTRYPOINT ["agensium"]
