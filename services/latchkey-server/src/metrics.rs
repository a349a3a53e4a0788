//! Prometheus metrics, served as text on a listener of their own (`GET /metrics`).
//!
//! Counted here, in the server layer, so the core stays free of metrics crates:
//! - `latchkey_calls_total{protocol, method, code}` and
//!   `latchkey_call_duration_seconds{protocol, method}`: every gRPC call (code as
//!   gRPC names it) and every OAuth HTTP request (code as the HTTP status);
//! - `latchkey_tokens_total{event}`: request tokens `issued`, access tokens
//!   `exchanged`, access tokens `revoked`, over gRPC and HTTP alike;
//! - `latchkey_two_legged_validations_total{kind="two_legged"|"impersonation"}`:
//!   2-legged OAuth validations that passed, impersonating ones apart.
//!
//! Read from plain counters when scraped, because the core and the store keep them:
//! - `latchkey_swept_rows_total{job}`, `latchkey_sweep_runs_total{job}`,
//!   `latchkey_sweep_failures_total{job}`: the sweeper's totals;
//! - `latchkey_db_pool_connections{state="idle"|"in_use"}`,
//!   `latchkey_db_pool_max_connections`;
//! - `latchkey_key_cache_lookups_total{result="hit"|"miss"}`: the parsed RSA key
//!   cache;
//! - `latchkey_record_cache_lookups_total{cache="consumers"|"oauth2_clients"|
//!   "access_tokens"|"oauth2_tokens", result="hit"|"miss"}`: the hot path's caches
//!   (each one's hit ratio is its hits over both).
//!
//! Each [`Metrics`] has its own recorder rather than the process-wide one, so that
//! several services in one process (the end-to-end tests) never mix their numbers.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use latchkey_core::authority::Authority;
use latchkey_core::store::SweepJob;
use latchkey_core::sweep::Sweeper;
use latchkey_store::SeaStore;
use metrics::{Counter, Histogram, Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusRecorder};
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// Latency buckets, in seconds: from a cached validation to a slow database.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

const METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

/// A token event counted in `latchkey_tokens_total`.
#[derive(Debug, Clone, Copy)]
pub enum TokenEvent {
    /// A request token was issued.
    Issued,
    /// A request token was exchanged for an access token.
    Exchanged,
    /// An access token was revoked.
    Revoked,
}

/// What the scrape reads besides the counters kept here.
pub struct Sources {
    /// The sweeper's totals.
    pub sweeper: Arc<Sweeper>,
    /// The pool.
    pub store: Arc<SeaStore>,
    /// The key cache's counts.
    pub authority: Arc<Authority>,
    /// The configured pool size.
    pub max_connections: u32,
}

/// One service's metrics.
pub struct Metrics {
    recorder: PrometheusRecorder,
    /// Each (protocol, method)'s handles, registered on first use: every call counts
    /// itself, and finding a handle here costs a read lock and a hash of two static
    /// strings, where registering builds and hashes a labelled key each time.
    calls: RwLock<HashMap<(&'static str, &'static str), Arc<CallHandles>>>,
}

/// The handles one (protocol, method) counts through.
struct CallHandles {
    duration: Histogram,
    by_code: RwLock<HashMap<String, Counter>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// An empty set of metrics.
    pub fn new() -> Self {
        // Fails only for an empty bucket list; then latencies become summaries.
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        Self {
            recorder: builder.build_recorder(),
            calls: RwLock::default(),
        }
    }

    /// Counts one call and its latency.
    pub fn call(
        &self,
        protocol: &'static str,
        method: &'static str,
        code: &str,
        elapsed: Duration,
    ) {
        let handles = remembered(&self.calls, &(protocol, method), || {
            let labels = vec![
                ("protocol", protocol.to_owned()),
                ("method", method.to_owned()),
            ];
            let key = key("latchkey_call_duration_seconds", labels);
            Arc::new(CallHandles {
                duration: self.recorder.register_histogram(&key, &METADATA),
                by_code: RwLock::default(),
            })
        });
        handles.duration.record(elapsed.as_secs_f64());
        let calls = remembered(&handles.by_code, code, || {
            let labels = vec![
                ("protocol", protocol.to_owned()),
                ("method", method.to_owned()),
                ("code", code.to_owned()),
            ];
            self.counter("latchkey_calls_total", labels)
        });
        calls.increment(1);
    }

    /// Counts `n` token events.
    pub fn tokens(&self, event: TokenEvent, n: u64) {
        let event = match event {
            TokenEvent::Issued => "issued",
            TokenEvent::Exchanged => "exchanged",
            TokenEvent::Revoked => "revoked",
        };
        self.counter("latchkey_tokens_total", vec![("event", event.to_owned())])
            .increment(n);
    }

    /// A 2-legged validation passed: `impersonation` when it acts for the user named
    /// in `xoauth_requestor_id`, else as the link's "execute as" user or no one.
    pub fn two_legged(&self, impersonation: bool) {
        let kind = if impersonation {
            "impersonation"
        } else {
            "two_legged"
        };
        self.counter(
            "latchkey_two_legged_validations_total",
            vec![("kind", kind.to_owned())],
        )
        .increment(1);
    }

    /// The Prometheus text exposition, with the read-on-scrape values refreshed.
    pub fn render(&self, sources: &Sources) -> String {
        for job in [
            SweepJob::Nonces,
            SweepJob::RequestTokens,
            SweepJob::AccessTokens,
        ] {
            let totals = sources.sweeper.totals();
            let label = || vec![("job", job.name().to_owned())];
            self.counter("latchkey_swept_rows_total", label())
                .absolute(totals.removed(job));
            self.counter("latchkey_sweep_runs_total", label())
                .absolute(totals.runs(job));
            self.counter("latchkey_sweep_failures_total", label())
                .absolute(totals.failures(job));
        }
        let pool = sources.store.pool_usage();
        let in_use = pool.open.saturating_sub(pool.idle);
        for (state, value) in [("idle", pool.idle), ("in_use", in_use)] {
            self.gauge(
                "latchkey_db_pool_connections",
                vec![("state", state.to_owned())],
            )
            .set(f64::from(value));
        }
        self.gauge("latchkey_db_pool_max_connections", Vec::new())
            .set(f64::from(sources.max_connections));
        let cache = sources.authority.key_cache_counts();
        for (result, value) in [("hit", cache.hits), ("miss", cache.misses)] {
            self.counter(
                "latchkey_key_cache_lookups_total",
                vec![("result", result.to_owned())],
            )
            .absolute(value);
        }
        let hot = sources.authority.hot_cache_counts();
        for (cache, counts) in [
            ("consumers", hot.consumers),
            ("oauth2_clients", hot.oauth2_clients),
            ("access_tokens", hot.access_tokens),
            ("oauth2_tokens", hot.oauth2_tokens),
        ] {
            for (result, value) in [("hit", counts.hits), ("miss", counts.misses)] {
                self.counter(
                    "latchkey_record_cache_lookups_total",
                    vec![("cache", cache.to_owned()), ("result", result.to_owned())],
                )
                .absolute(value);
            }
        }
        self.recorder.handle().render()
    }

    fn counter(&self, name: &'static str, labels: Vec<(&'static str, String)>) -> metrics::Counter {
        self.recorder
            .register_counter(&key(name, labels), &METADATA)
    }

    fn gauge(&self, name: &'static str, labels: Vec<(&'static str, String)>) -> metrics::Gauge {
        self.recorder.register_gauge(&key(name, labels), &METADATA)
    }
}

/// The handle remembered under `key`, made by `make` and remembered on first use.
/// Finding it takes a read lock; only the first use of a key takes the write lock. A
/// lock that a panic elsewhere left poisoned still holds sound handles.
fn remembered<K, Q, V>(handles: &RwLock<HashMap<K, V>>, key: &Q, make: impl FnOnce() -> V) -> V
where
    K: Borrow<Q> + Eq + Hash,
    Q: ToOwned<Owned = K> + Eq + Hash + ?Sized,
    V: Clone,
{
    if let Some(handle) = handles
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(key)
    {
        return handle.clone();
    }
    handles
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(key.to_owned())
        .or_insert_with(make)
        .clone()
}

fn key(name: &'static str, labels: Vec<(&'static str, String)>) -> Key {
    Key::from_parts(
        name,
        labels
            .into_iter()
            .map(|(k, v)| Label::new(k, v))
            .collect::<Vec<_>>(),
    )
}

/// Counts the OAuth HTTP requests: by route, not by raw path, so a scan of random
/// paths cannot make unbounded label values.
pub async fn count_http(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let method = if path.ends_with("/request-token") {
        "request-token"
    } else if path.ends_with("/access-token") {
        "access-token"
    } else if path.ends_with("/authorize") {
        "authorize"
    } else {
        "other"
    };
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status();
    metrics.call("http", method, status.as_str(), started.elapsed());
    if status.is_success() {
        match method {
            "request-token" => metrics.tokens(TokenEvent::Issued, 1),
            "access-token" => metrics.tokens(TokenEvent::Exchanged, 1),
            _ => {}
        }
    }
    response
}

/// The metrics listener, bound, not yet serving.
pub struct MetricsServer {
    listener: TcpListener,
    port: u16,
    metrics: Arc<Metrics>,
    sources: Arc<Sources>,
}

impl MetricsServer {
    /// Binds `address`.
    pub async fn bind(
        address: std::net::SocketAddr,
        metrics: Arc<Metrics>,
        sources: Sources,
    ) -> std::io::Result<MetricsServer> {
        let listener = TcpListener::bind(address).await?;
        let port = listener.local_addr()?.port();
        Ok(MetricsServer {
            listener,
            port,
            metrics,
            sources: Arc::new(sources),
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves `GET /metrics` until `stop` completes.
    pub async fn serve(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (metrics, sources) = (self.metrics, self.sources);
        let router = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    metrics.render(&sources),
                )
            }),
        );
        tracing::info!(port = self.port, "serving Prometheus metrics");
        axum::serve(self.listener, router)
            .with_graceful_shutdown(stop)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_method_and_code_keeps_its_own_count_through_the_remembered_handles() {
        let metrics = Metrics::new();
        for _ in 0..3 {
            metrics.call("grpc", "ValidateAccess", "OK", Duration::from_micros(300));
        }
        metrics.call(
            "grpc",
            "ValidateAccess",
            "Unauthenticated",
            Duration::from_millis(2),
        );
        metrics.call("http", "authorize", "OK", Duration::from_millis(30));
        let text = metrics.recorder.handle().render();
        for line in [
            r#"latchkey_calls_total{protocol="grpc",method="ValidateAccess",code="OK"} 3"#,
            r#"latchkey_calls_total{protocol="grpc",method="ValidateAccess",code="Unauthenticated"} 1"#,
            r#"latchkey_calls_total{protocol="http",method="authorize",code="OK"} 1"#,
            r#"latchkey_call_duration_seconds_count{protocol="grpc",method="ValidateAccess"} 4"#,
            r#"latchkey_call_duration_seconds_bucket{protocol="grpc",method="ValidateAccess",le="0.001"} 3"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
    }
}
