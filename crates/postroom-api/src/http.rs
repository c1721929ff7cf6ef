//! The node's plain HTTP endpoint for load balancers and probes:
//! `GET /healthz` (the process is alive) and `GET /readyz` (the node can do
//! its job, from the readiness monitor's watch). HTTP/1.1 only, axum.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::readiness::Readiness;

/// Serve HTTP/1.1 on `listener` until `shutdown`: `GET /healthz` → 200
/// `ok`; `GET /readyz` → 200 `ready`, or 503 with one problem per line;
/// anything else (other paths, other methods) → 404. `HEAD` is answered
/// like `GET`, without a body.
pub async fn serve_http(
    listener: TcpListener,
    readiness: watch::Receiver<Readiness>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let router = Router::new()
        .route("/healthz", get(healthz).fallback(not_found))
        .route("/readyz", get(readyz).fallback(not_found))
        .fallback(not_found)
        .with_state(readiness);
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(readiness): State<watch::Receiver<Readiness>>) -> (StatusCode, String) {
    let now = readiness.borrow().clone();
    if now.ready {
        return (StatusCode::OK, "ready\n".to_string());
    }
    let mut body = String::new();
    for problem in &now.problems {
        body.push_str(problem);
        body.push('\n');
    }
    if body.is_empty() {
        body.push_str("not ready\n");
    }
    (StatusCode::SERVICE_UNAVAILABLE, body)
}

async fn not_found() -> (StatusCode, &'static str) {
    (StatusCode::NOT_FOUND, "not found\n")
}
