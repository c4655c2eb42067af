# syntax=docker/dockerfile:1
#
# Roster container image: a multi-stage build of the `roster` binary into a small Debian runtime.
#
#   docker build -t roster .
#   docker run -p 8080:8080 -v roster-data:/data roster              # SQLite in the /data volume
#   docker run -p 8080:8080 -e ROSTER_DATABASE_URL=postgres://user:pass@db:5432/roster roster
#   docker run --rm -v roster-data:/data roster token create --tenant acme --scope "scim:read scim:write"
#
# On first start with no ROSTER_JWT_SECRET, the server generates a signing secret, keeps it in the
# database and prints a ready-to-use token (see `docker logs`).

# ---- build ------------------------------------------------------------------------------------
FROM rust:1.95-slim-bookworm AS builder

# gcc/make build the bundled SQLite and libpq (libsqlite3-sys, pq-sys). The image is for production,
# so libpq gets TLS (feature `postgres-tls`), linked to the system OpenSSL: pkg-config + libssl-dev
# here and libssl3 in the runtime image.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc make libc6-dev pkg-config libssl-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .

# No Docker engine runs in Roster's CI, so this step is deliberately IDENTICAL to the README's
# build with TLS (`cargo build --release --locked --features postgres-tls`), which CI builds and
# connects over TLS with. Keep the two in step. rust-toolchain.toml pins the compiler; rustup fetches that exact
# toolchain here if the base image carries a different 1.95 patch release.
# The cache mounts (BuildKit) only keep crates and compiled dependencies between image builds.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --features postgres-tls \
    && install -D -m 0755 target/release/roster /out/roster

# ---- runtime ----------------------------------------------------------------------------------
FROM debian:bookworm-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 roster \
    && useradd --system --uid 10001 --gid roster --home-dir /data --no-create-home --shell /usr/sbin/nologin roster \
    && install -d -o roster -g roster -m 0750 /data

COPY --from=builder /out/roster /usr/local/bin/roster

# The SQLite file (roster.db, plus its -wal/-shm companions) lives in /data: mount a volume there.
# For PostgreSQL set ROSTER_DATABASE_URL=postgres://user:pass@host:5432/db instead; then /data
# stays empty and any number of containers can share that database.
WORKDIR /data
VOLUME ["/data"]

ENV ROSTER_BIND=0.0.0.0:8080 \
    ROSTER_DATABASE_URL=/data/roster.db

USER roster:roster
EXPOSE 8080

# `roster serve` shuts down gracefully on SIGTERM (what `docker stop` sends).
ENTRYPOINT ["roster"]
CMD ["serve"]
