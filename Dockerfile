# syntax=docker/dockerfile:1
# The outbound SMS service: built from the locked dependency set, run as a non-root user on a
# slim Debian. `docker build -t outbound-sms .`

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
# health check. Versions float with Debian's security updates on purpose (DL3008).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 libsqlite3-0 libssl3 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/sms --create-home sms
COPY --from=build /src/target/release/sms-server /usr/local/bin/sms-server
USER 10001:10001
WORKDIR /var/lib/sms
ENV SMS_BIND=0.0.0.0:8080 \
    SMS_DATA_DIR=/var/lib/sms \
    SMS_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["sms-server"]
