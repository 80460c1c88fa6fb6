# Experience Layer: the `xl` server in a small image that runs as a non-root
# user. Build: docker build -t xl .   Run: docker run -p 8787:8787 -v xl-data:/var/lib/xl xl
# See docs/OPERATIONS.md for the settings a deployment wants.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# Only the server binary, as the README's `cargo run --release` builds it.
RUN cargo build --release --locked -p xl-server --bin xl \
 && strip target/release/xl

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/xl --create-home xl
COPY --from=build /src/target/release/xl /usr/local/bin/xl
USER xl:xl
WORKDIR /var/lib/xl
# The data directory (SQLite file, generated secret, local file store) is a
# volume; on PostgreSQL and S3 nothing stateful stays in the container.
ENV XL_BIND=0.0.0.0:8787 \
    XL_DATA_DIR=/var/lib/xl/data \
    DATABASE_URL=sqlite:///var/lib/xl/data/xl.db \
    FILE_STORE=file:///var/lib/xl/data/files \
    XL_LOG_FORMAT=json
VOLUME ["/var/lib/xl/data"]
EXPOSE 8787
ENTRYPOINT ["/usr/local/bin/xl"]
CMD ["serve"]
