//! `GET /metrics`: Prometheus text, through the `metrics` facade and its Prometheus exporter.
//! Crates record with `metrics::counter!`/`histogram!` and know nothing of the exporter.

use std::sync::OnceLock;

use actix_web::{get, web, HttpResponse};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use sms_service::Service;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Latency buckets, in seconds: 1 ms to 10 s.
const BUCKETS: [f64; 14] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0];

/// Installs the process-wide recorder once; `None` if another recorder was installed first.
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), &BUCKETS)
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            ::metrics::set_global_recorder(recorder).ok()?;
            describe();
            Some(handle)
        })
        .clone()
}

fn describe() {
    ::metrics::describe_counter!("sms_http_requests_total", "HTTP requests by method, route pattern and status.");
    ::metrics::describe_histogram!(
        "sms_http_request_duration_seconds",
        "HTTP request latency by method and route pattern."
    );
    ::metrics::describe_counter!(
        "sms_session_lock_total",
        "Session lock acquisitions by outcome: acquired, busy, error."
    );
    ::metrics::describe_counter!("sms_rate_limited_total", "Requests refused by a tenant's rate limit.");
    ::metrics::describe_counter!(
        "sms_delivery_attempts_total",
        "Delivery attempts by provider and outcome: sent, retry, failed."
    );
    ::metrics::describe_gauge!("sms_db_pool_connections_in_use", "Database connections checked out of the pool.");
    ::metrics::describe_gauge!("sms_db_pool_connections_max", "The database pool's size.");
}

/// Prometheus text format.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "Metrics in Prometheus text format 0.0.4.", content_type = "text/plain", body = String))
)]
#[get("/metrics")]
pub async fn prometheus_metrics(state: web::Data<Service>) -> HttpResponse {
    let (in_use, max) = state.pool_state();
    ::metrics::gauge!("sms_db_pool_connections_in_use").set(f64::from(in_use));
    ::metrics::gauge!("sms_db_pool_connections_max").set(f64::from(max));
    let text = install().map(|h| h.render()).unwrap_or_default();
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(text)
}
