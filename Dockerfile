# syntax=docker/dockerfile:1
# The outbound SMS service: built from the locked dependency set, run as a numeric non-root user
# (10001) on a slim Debian. `docker build -t outbound-sms .`

FROM rust:1.95-slim-bookworm AS build
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq-dev libsqlite3-dev libssl-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY crates crates
COPY migrations migrations
RUN cargo build --release --locked -p sms-server \
 && strip target/release/sms-server

FROM debian:bookworm-slim AS runtime
# Only the shared libraries the binary links, CA roots for HTTPS providers, and curl for the
# health check (and the Helm chart's `helm test`). Versions float with Debian's security updates on
# purpose (DL3008). The user is numeric, 10001:10001, the ids the chart's securityContext names.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 libsqlite3-0 libssl3 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 sms \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin sms \
 && install -d -o 10001 -g 10001 -m 0700 /tmp/sms
COPY --from=build /src/target/release/sms-server /usr/local/bin/sms-server
USER 10001:10001
# Nothing is written outside /tmp, so the root filesystem can be read-only (the Helm chart mounts
# an emptyDir at /tmp; `docker run --read-only --tmpfs /tmp` does the same). With PostgreSQL and
# SMS_JWT_SECRET set (docker-compose.yml, the chart) the server writes no file at all. The embedded
# SQLite default keeps its database and generated JWT secret in SMS_DATA_DIR: mount a volume at
# /tmp/sms to keep them (`docker run -v sms-data:/tmp/sms ...`; the directory belongs to 10001).
WORKDIR /tmp
ENV SMS_BIND=0.0.0.0:8080 \
    SMS_DATA_DIR=/tmp/sms \
    SMS_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["sms-server"]
