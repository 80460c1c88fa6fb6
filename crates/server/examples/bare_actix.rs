//! A bare actix-web JSON endpoint, the baseline the benchmarks compare the
//! real routes against (same framework, same machine, same load generator),
//! and a bare event stream that never sends anything at the path of
//! `GET /api/v1/threads/{id}/events`: what an idle stream costs actix-web
//! itself (`scripts/bench/live`).

use actix_web::{App, HttpResponse, HttpServer, web};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::var("BARE_BIND").unwrap_or_else(|_| "127.0.0.1:8788".to_owned());
    let workers = std::env::var("XL_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(2);
    HttpServer::new(|| {
        App::new()
            .route(
                "/json",
                web::get().to(|| async {
                    HttpResponse::Ok().json(serde_json::json!({ "message": "Hello, World!" }))
                }),
            )
            .route(
                "/api/v1/threads/{id}/events",
                web::get().to(|| async {
                    HttpResponse::Ok()
                        .content_type("text/event-stream")
                        .streaming(futures_util::stream::pending::<
                            Result<actix_web::web::Bytes, std::convert::Infallible>,
                        >())
                }),
            )
    })
    .workers(workers)
    .bind(bind)?
    .run()
    .await
}
