//! `GET /metrics`: Prometheus text, through the `metrics` facade and its Prometheus exporter.
//! Crates record with `metrics::counter!`/`histogram!` and know nothing of the exporter.

use std::sync::OnceLock;

use actix_web::{get, web, HttpResponse};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use actix_web::ResponseError;
use sms_service::Service;

use crate::client::HttpSettings;
use crate::error::ApiError;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Latency buckets, in seconds: 1 ms to 10 s.
const BUCKETS: [f64; 14] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0];

/// Writes per SQLite group commit.
const GROUP_SIZES: [f64; 7] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];

/// Installs the process-wide recorder once; `None` if another recorder was installed first.
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), &BUCKETS)
                .ok()?
                .set_buckets_for_metric(Matcher::Full("sms_db_writer_group_size".into()), &GROUP_SIZES)
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            ::metrics::set_global_recorder(recorder).ok()?;
            describe();
            start_at_zero();
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
        "sms_auth_refused_total",
        "Requests refused because their address failed authentication too often."
    );
    ::metrics::describe_counter!(
        "sms_delivery_attempts_total",
        "Delivery attempts by provider and outcome: sent, retry, failed."
    );
    ::metrics::describe_histogram!(
        "sms_db_writer_step_duration_seconds",
        "SQLite's writer, by step of a group commit: queue (each write's wait for its group), checkout, begin, writes, commit."
    );
    ::metrics::describe_histogram!("sms_db_writer_group_size", "SQLite's writer: writes per group commit.");
    ::metrics::describe_histogram!(
        "sms_db_checkpoint_duration_seconds",
        "SQLite WAL checkpoints by who ran them: checkpointer (blocks no one), writer-idle (the writer, no write waiting) or writer (between two groups, writes waiting)."
    );
    ::metrics::describe_histogram!(
        "sms_db_wait_duration_seconds",
        "Database work's waits before it runs: for a blocking thread (thread), for a pooled connection (connection)."
    );
    ::metrics::describe_gauge!("sms_db_pool_connections_in_use", "Database connections checked out of the pool.");
    ::metrics::describe_gauge!("sms_db_pool_connections_max", "The database pool's size.");
}

/// Every counter and gauge exists from the start, at 0 for each value of its bounded labels,
/// so that rates and alerts work before the first occurrence.
fn start_at_zero() {
    use ::metrics::{counter, gauge};
    for outcome in ["acquired", "busy", "taken_over", "error"] {
        counter!("sms_session_lock_total", "outcome" => outcome).increment(0);
    }
    counter!("sms_rate_limited_total").increment(0);
    counter!("sms_auth_refused_total").increment(0);
    for outcome in ["hit", "miss"] {
        counter!("sms_auth_cache_total", "outcome" => outcome).increment(0);
    }
    for provider in ["log", "twilio", "webhook"] {
        for outcome in ["sent", "retry", "failed"] {
            counter!("sms_delivery_attempts_total", "provider" => provider, "outcome" => outcome).increment(0);
        }
    }
    for kind in sms_domain::EventType::ALL {
        counter!("sms_events_total", "type" => kind.as_str()).increment(0);
    }
    for outcome in ["delivered", "retry", "failed", "gone"] {
        counter!("sms_event_deliveries_total", "outcome" => outcome).increment(0);
    }
    for name in
        ["sms_delivery_backlog", "sms_event_backlog", "sms_db_pool_connections_in_use", "sms_db_pool_connections_max"]
    {
        gauge!(name).set(0.0);
    }
}

/// Prometheus text format.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "Metrics in Prometheus text format 0.0.4.", content_type = "text/plain", body = String))
)]
#[get("/metrics")]
pub async fn prometheus_metrics(state: web::Data<Service>, settings: Option<web::Data<HttpSettings>>) -> HttpResponse {
    // With `SMS_METRICS_BIND`, the metrics have an address of their own and none here.
    if settings.is_some_and(|s| !s.metrics_here) {
        return ApiError::new(actix_web::http::StatusCode::NOT_FOUND, "not found").error_response();
    }
    let (in_use, max) = state.pool_state();
    ::metrics::gauge!("sms_db_pool_connections_in_use").set(f64::from(in_use));
    ::metrics::gauge!("sms_db_pool_connections_max").set(f64::from(max));
    let text = install().map(|h| h.render()).unwrap_or_default();
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(text)
}
