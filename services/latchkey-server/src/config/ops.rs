//! The operational sections of the configuration: gRPC limits and gRPC-Web origins,
//! TLS, the metrics listener, the health probe and the shutdown grace period. They
//! live apart from the domain settings in the parent module because operators, not
//! OAuth policy, decide them.

use super::{ConfigError, GrpcConfig, check_range};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

/// TLS for the gRPC and HTTP listeners (the metrics listener stays plain: keep it
/// inside the cluster). Unset files: plain text.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The certificate chain, PEM, leaf first.
    pub cert_file: Option<PathBuf>,
    /// The private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key_file: Option<PathBuf>,
    /// CA certificates, PEM. Set: every client must present a certificate signed by
    /// one of them (mutual TLS for internal callers).
    pub client_ca_file: Option<PathBuf>,
    /// How often the certificate and key files are checked for changes; a changed
    /// pair serves new connections without a restart. 0: never.
    pub reload_interval_seconds: u64,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            cert_file: None,
            key_file: None,
            client_ca_file: None,
            reload_interval_seconds: 30,
        }
    }
}

/// The Prometheus endpoint, `GET /metrics` on a listener of its own.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Serve metrics at all.
    pub enabled: bool,
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 9090)),
        }
    }
}

/// The gRPC health service is `SERVING` while a ping of the database succeeds.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HealthConfig {
    /// Seconds between database pings.
    pub probe_interval_seconds: u64,
    /// A ping slower than this counts as a failure.
    pub probe_timeout_seconds: u64,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            probe_interval_seconds: 5,
            probe_timeout_seconds: 2,
        }
    }
}

/// What happens on SIGTERM.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ShutdownConfig {
    /// How long in-flight calls may take to finish once the stop has come; after it,
    /// the rest are cut. Keep it below the pod's `terminationGracePeriodSeconds`.
    pub grace_period_seconds: u64,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        Self {
            grace_period_seconds: 20,
        }
    }
}

/// More streams than this on one connection is a typo: the process-wide
/// `concurrency_limit` serves far fewer at once.
const MAX_CONCURRENT_STREAMS: u32 = 65_536;
/// Pinging less often than hourly notices a vanished peer too late to matter.
const MAX_PING_INTERVAL_SECONDS: u64 = 3600;
/// A ping unanswered for a minute means the peer is gone.
const MAX_PING_TIMEOUT_SECONDS: u64 = 60;
/// Two hours, the usual system default: longer probes nothing useful.
const MAX_TCP_KEEPALIVE_SECONDS: u64 = 7200;
/// A week: longer and the age limit no longer moves clients to new replicas.
const MAX_CONNECTION_AGE_SECONDS: u64 = 7 * 24 * 3600;

impl GrpcConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_message_bytes == 0
            || self.call_timeout_seconds == 0
            || self.concurrency_limit == 0
        {
            return Err(ConfigError::Invalid(
                "grpc.max_message_bytes, grpc.call_timeout_seconds and grpc.concurrency_limit must be above 0".into(),
            ));
        }
        // HTTP/2 requires a peer to allow at least 100 streams (RFC 9113 section 6.5.2
        // advises it); fewer would make ordinary clients queue.
        check_range(
            "grpc.max_concurrent_streams",
            self.max_concurrent_streams,
            100..=MAX_CONCURRENT_STREAMS,
        )?;
        check_range(
            "grpc.http2_keepalive_interval_seconds",
            self.http2_keepalive_interval_seconds,
            1..=MAX_PING_INTERVAL_SECONDS,
        )?;
        check_range(
            "grpc.http2_keepalive_timeout_seconds",
            self.http2_keepalive_timeout_seconds,
            1..=MAX_PING_TIMEOUT_SECONDS,
        )?;
        check_range(
            "grpc.tcp_keepalive_seconds",
            self.tcp_keepalive_seconds,
            1..=MAX_TCP_KEEPALIVE_SECONDS,
        )?;
        check_range(
            "grpc.max_connection_age_seconds",
            self.max_connection_age_seconds,
            1..=MAX_CONNECTION_AGE_SECONDS,
        )?;
        check_range(
            "grpc.max_connections",
            self.max_connections,
            1..=super::MAX_CONNECTIONS,
        )?;
        check_range(
            "grpc.first_byte_timeout_seconds",
            self.first_byte_timeout_seconds,
            1..=super::MAX_HEADER_READ_TIMEOUT_SECONDS,
        )?;
        for origin in &self.cors_allowed_origins {
            if origin != "*" && axum::http::HeaderValue::from_str(origin).is_err() {
                return Err(ConfigError::Invalid(format!(
                    "grpc.cors_allowed_origins: {origin:?} is not an origin"
                )));
            }
        }
        Ok(())
    }
}

impl TlsConfig {
    /// Whether the listeners speak TLS.
    pub fn enabled(&self) -> bool {
        self.cert_file.is_some()
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.cert_file.is_some() != self.key_file.is_some() {
            return Err(ConfigError::Invalid(
                "tls.cert_file and tls.key_file go together: set both or neither".into(),
            ));
        }
        if self.client_ca_file.is_some() && !self.enabled() {
            return Err(ConfigError::Invalid(
                "tls.client_ca_file needs tls.cert_file and tls.key_file".into(),
            ));
        }
        Ok(())
    }
}

impl HealthConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.probe_interval_seconds == 0 || self.probe_timeout_seconds == 0 {
            return Err(ConfigError::Invalid(
                "health.probe_interval_seconds and health.probe_timeout_seconds must be above 0"
                    .into(),
            ));
        }
        Ok(())
    }
}
