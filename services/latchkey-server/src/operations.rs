//! What wraps the Latchkey services so operators and the gRPC ecosystem can run them:
//! the standard health and reflection services beside `latchkey.v1`, gRPC-Web with
//! CORS for browsers, limits on every call, request ids, TLS and the metrics
//! listener. [`crate::startup`] builds the services; this module decides how they are
//! served.
//!
//! Layers around every gRPC call, outermost first: request id (so every answer
//! carries one, even a refused one), CORS, gRPC-Web translation; tonic itself applies
//! the per-call timeout and the message size limits. The Latchkey services (not
//! health, not reflection) sit behind one cap on calls in flight
//! ([`crate::call_limit`]), which refuses at once when full.

use crate::call_limit::CallPermits;
use crate::config::{Config, GrpcConfig};
use crate::first_byte::FirstByteDeadline;
use crate::http::HttpServer;
use crate::metrics::{Metrics, MetricsServer, Sources};
use crate::request_id::{REQUEST_ID, RequestIdLayer};
use crate::startup::{Backend, ServeError, StartupError};
use crate::tls::{Admission, Admitted, Tls};
use axum::http::{HeaderName, HeaderValue, Method};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::server::NamedService;
use tonic::service::Routes;
use tonic_health::server::HealthReporter;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The operational side of one service, built from its configuration.
pub struct Operations {
    grpc: GrpcConfig,
    tls: Option<Tls>,
    metrics: Arc<Metrics>,
    metrics_server: Option<MetricsServer>,
    probe_interval: Duration,
    probe_timeout: Duration,
    grace_period: Duration,
}

impl Operations {
    /// Loads TLS and binds the metrics listener.
    pub async fn build(config: &Config, backend: &Backend) -> Result<Operations, StartupError> {
        let tls = Tls::from_config(&config.tls)?;
        let metrics = Arc::new(Metrics::new());
        let metrics_server = if config.metrics.enabled {
            let sources = Sources {
                sweeper: backend.sweeper.clone(),
                store: backend.store.clone(),
                authority: backend.authority.clone(),
                max_connections: config.database.max_connections,
            };
            let address = config.metrics.listen;
            Some(
                MetricsServer::bind(address, metrics.clone(), sources)
                    .await
                    .map_err(|source| StartupError::Bind { address, source })?,
            )
        } else {
            None
        };
        Ok(Operations {
            grpc: config.grpc.clone(),
            tls,
            metrics,
            metrics_server,
            probe_interval: Duration::from_secs(config.health.probe_interval_seconds),
            probe_timeout: Duration::from_secs(config.health.probe_timeout_seconds),
            grace_period: Duration::from_secs(config.shutdown.grace_period_seconds),
        })
    }

    /// The counters the handlers move.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// The bound metrics port, unless metrics are off.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_server.as_ref().map(MetricsServer::port)
    }

    /// Time between database pings of the health probe.
    pub fn probe_interval(&self) -> Duration {
        self.probe_interval
    }

    /// The longest a health ping may take.
    pub fn probe_timeout(&self) -> Duration {
        self.probe_timeout
    }

    /// How long in-flight calls get once the stop has come.
    pub fn grace_period(&self) -> Duration {
        self.grace_period
    }

    /// Request ids, metrics and TLS for the OAuth HTTP listener.
    pub fn wrap_http(&self, http: HttpServer) -> HttpServer {
        let metrics = self.metrics.clone();
        http.map_router(|router| {
            router
                .layer(axum::middleware::from_fn_with_state(
                    metrics,
                    crate::metrics::count_http,
                ))
                .layer(RequestIdLayer)
        })
        .with_tls(self.tls.clone())
    }

    /// The Latchkey services with the message size limits, beside health and
    /// reflection (v1 and v1alpha, for older `grpcurl` builds).
    pub fn grpc_routes<A, C>(
        &self,
        authority: latchkey_api::v1::token_authority_server::TokenAuthorityServer<A>,
        admin: latchkey_api::v1::consumer_admin_server::ConsumerAdminServer<C>,
    ) -> Result<(Routes, HealthReporter), ServeError>
    where
        A: latchkey_api::v1::token_authority_server::TokenAuthority,
        C: latchkey_api::v1::consumer_admin_server::ConsumerAdmin,
    {
        let limit = self.grpc.max_message_bytes;
        let (health, health_service) = tonic_health::server::health_reporter();
        let reflection = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(latchkey_api::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        };
        debug_assert_eq!(
            <latchkey_api::v1::token_authority_server::TokenAuthorityServer<A> as NamedService>::NAME,
            "latchkey.v1.TokenAuthority"
        );
        // One cap for both Latchkey services; health and reflection stay outside it.
        let permits = CallPermits::new(self.grpc.concurrency_limit);
        let routes = Routes::new(
            permits.wrap(
                authority
                    .max_decoding_message_size(limit)
                    .max_encoding_message_size(limit),
            ),
        )
        .add_service(
            permits.wrap(
                admin
                    .max_decoding_message_size(limit)
                    .max_encoding_message_size(limit),
            ),
        )
        .add_service(health_service)
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?);
        Ok((routes, health))
    }

    /// Serves `routes` on `listener` until `stop`, then lets in-flight calls finish.
    pub async fn serve_grpc(
        &self,
        routes: Routes,
        listener: TcpListener,
        stop: impl Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        let mut server = tonic::transport::Server::builder()
            // gRPC-Web arrives over HTTP/1.1.
            .accept_http1(true)
            .timeout(Duration::from_secs(self.grpc.call_timeout_seconds))
            .max_concurrent_streams(self.grpc.max_concurrent_streams)
            .http2_keepalive_interval(Some(Duration::from_secs(
                self.grpc.http2_keepalive_interval_seconds,
            )))
            .http2_keepalive_timeout(Some(Duration::from_secs(
                self.grpc.http2_keepalive_timeout_seconds,
            )))
            // No `max_connection_age_grace`: tonic 0.14.9 then skips the GOAWAY and
            // only cuts the connection at age plus grace. Without it the calls still
            // running at the GOAWAY end by the call timeout, and the connection with
            // them.
            .max_connection_age(Duration::from_secs(self.grpc.max_connection_age_seconds))
            .layer(RequestIdLayer)
            .layer(cors(&self.grpc.cors_allowed_origins))
            .layer(tonic_web::GrpcWebLayer::new());
        let router = server.add_routes(routes);
        // tonic sets TCP options only on listeners it binds itself, so ours sets them,
        // and it caps neither connections nor the wait for a client's first bytes.
        let admission = Admission::capped(self.grpc.max_connections)
            .with_tcp_keepalive(Duration::from_secs(self.grpc.tcp_keepalive_seconds));
        let first_byte = Duration::from_secs(self.grpc.first_byte_timeout_seconds);
        match &self.tls {
            Some(tls) => {
                let incoming = ReceiverStream::new(tls.incoming(listener, admission))
                    .map(move |admitted| guarded(admitted, first_byte));
                router.serve_with_incoming_shutdown(incoming, stop).await?
            }
            None => {
                let incoming = ReceiverStream::new(accepting(listener, admission))
                    .map(move |admitted| guarded(admitted, first_byte));
                router.serve_with_incoming_shutdown(incoming, stop).await?
            }
        }
        Ok(())
    }

    /// The metrics listener, to be served with [`Operations::serve_metrics`].
    pub fn take_metrics_server(&mut self) -> Option<MetricsServer> {
        self.metrics_server.take()
    }

    /// Serves metrics until `stop` (at once done when metrics are off).
    pub async fn serve_metrics(
        server: Option<MetricsServer>,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        match server {
            Some(server) => server.serve(stop).await.map_err(ServeError::Metrics),
            None => Ok(()),
        }
    }
}

/// An admitted connection as tonic takes it: with its slot, and a first-byte deadline.
fn guarded<S>(
    admitted: Admitted<S>,
    first_byte: Duration,
) -> std::io::Result<FirstByteDeadline<S>> {
    Ok(FirstByteDeadline::new(
        admitted.stream,
        first_byte,
        admitted.slot,
    ))
}

/// Accepts plain TCP connections on `listener` as `admission` says; the loop ends
/// when the receiver is dropped.
fn accepting(
    listener: TcpListener,
    admission: Admission,
) -> tokio::sync::mpsc::Receiver<Admitted<tokio::net::TcpStream>> {
    let (sender, receiver) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let admitted = tokio::select! {
                () = sender.closed() => return,
                admitted = admission.accept(&listener) => admitted,
            };
            if sender.send(admitted).await.is_err() {
                return;
            }
        }
    });
    receiver
}

/// CORS for gRPC-Web: the configured origins may call, and may read the gRPC status
/// and the request id from the answer.
fn cors(origins: &[String]) -> CorsLayer {
    let allow = if origins.iter().any(|origin| origin == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|origin| HeaderValue::from_str(origin).ok()),
        )
    };
    let header = HeaderName::from_static;
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::POST, Method::OPTIONS])
        .allow_headers([
            header("content-type"),
            header("authorization"),
            header("x-grpc-web"),
            header("x-user-agent"),
            header("grpc-timeout"),
            REQUEST_ID,
        ])
        .expose_headers([
            header("grpc-status"),
            header("grpc-message"),
            header("grpc-status-details-bin"),
            header("oauth-problem"),
            REQUEST_ID,
        ])
        .max_age(Duration::from_secs(600))
}
