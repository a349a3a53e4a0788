//! Configuration: built-in defaults, then `latchkey.toml` (or the file given with
//! `--config`), then `LATCHKEY_*` environment variables, with `__` between levels
//! (`LATCHKEY_DATABASE__URL`, `LATCHKEY_GRPC__LISTEN`).
//!
//! The defaults run with no setup at all: an SQLite file in the working folder,
//! migrations at start-up, a listener on localhost, and a development encryption key
//! generated once and kept beside the database file (with a loud warning). A Postgres
//! deployment must configure its key: `serve` refuses to start without one.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use latchkey_core::oauth1::policy::OAuth1Policy;
use latchkey_core::oauth2::policy::OAuth2Policy;
use latchkey_core::policy::Policy;
use latchkey_core::sweep::SweepSettings;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

mod ops;
pub use ops::{HealthConfig, MetricsConfig, ShutdownConfig, TlsConfig};

/// Everything `latchkey` can be told.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The gRPC listener.
    pub grpc: GrpcConfig,
    /// The HTTP listener for RFC 5849 consumers, on Jira's paths.
    pub http: HttpConfig,
    /// Where consumers and browsers reach Latchkey from outside; the authorize URL
    /// handed to consumers starts with it.
    pub public_base_url: String,
    /// The database.
    pub database: DatabaseConfig,
    /// Sealing of recoverable secrets.
    pub encryption: EncryptionConfig,
    /// Caller credentials, as argon2 PHC hashes (`latchkey credential generate`).
    pub credentials: CredentialsConfig,
    /// OAuth 1.0a lifetimes and limits.
    pub oauth1: OAuth1Config,
    /// OAuth 2.0 lifetimes and switches.
    #[serde(default)]
    pub oauth2: OAuth2Config,
    /// The sweeper that removes ended rows.
    pub sweeper: SweeperConfig,
    /// Logging.
    pub log: LogConfig,
    /// The web pages on the HTTP listener (see [`crate::web`]).
    #[serde(default)]
    pub web: crate::web::WebConfig,
    /// TLS for the gRPC and HTTP listeners.
    pub tls: TlsConfig,
    /// The Prometheus endpoint.
    pub metrics: MetricsConfig,
    /// The database probe behind the gRPC health service.
    pub health: HealthConfig,
    /// The shutdown grace period.
    pub shutdown: ShutdownConfig,
}

/// The gRPC listener.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GrpcConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The largest message accepted or sent, in bytes (4 MiB); a larger request is
    /// answered `OUT_OF_RANGE` (tonic's code for a message over its limit).
    pub max_message_bytes: usize,
    /// How long one call may take before it is cut (a client's shorter
    /// `grpc-timeout` wins).
    pub call_timeout_seconds: u64,
    /// Calls served at once across all connections; more wait for a free slot.
    pub concurrency_limit: usize,
    /// Browser origins allowed to call over gRPC-Web (`https://app.example.com`);
    /// `["*"]` allows any. Empty: no cross-origin browser calls.
    pub cors_allowed_origins: Vec<String>,
    /// Calls one HTTP/2 connection may have open at once
    /// (`SETTINGS_MAX_CONCURRENT_STREAMS`); a client past it waits on its side.
    pub max_concurrent_streams: u32,
    /// An HTTP/2 connection quiet this long is pinged, so a peer that has gone away
    /// without closing is noticed.
    pub http2_keepalive_interval_seconds: u64,
    /// A ping unanswered this long closes the connection.
    pub http2_keepalive_timeout_seconds: u64,
    /// A connection idle this long at the TCP level gets keep-alive probes (gRPC-Web
    /// over HTTP/1.1 and connections not yet speaking HTTP/2 have no pings).
    pub tcp_keepalive_seconds: u64,
    /// A connection older than this is asked to go away (HTTP/2 `GOAWAY`) and closes
    /// once its calls have ended (each within `call_timeout_seconds`). Clients
    /// reconnect, which also spreads them over new replicas. A connection that has not
    /// begun to speak HTTP by then is closed at once.
    pub max_connection_age_seconds: u64,
    /// Connections served at once (TLS handshakes included); more wait in the listen
    /// queue until one closes.
    pub max_connections: usize,
    /// A new connection that has sent no byte this long after it was accepted (or
    /// after its TLS handshake) is closed, so silent connections cannot hold slots.
    pub first_byte_timeout_seconds: u64,
}

/// The HTTP listener: Jira's OAuth endpoints for consumers that speak RFC 5849 over
/// HTTP. The signature base string uses `public_base_url`, not the address bound here.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Address to listen on; port 0 picks a free port. The default matches the default
    /// `public_base_url`.
    pub listen: SocketAddr,
    /// The web frontend's consent page; `/authorize` sends the browser there with
    /// `oauth_token` added to its query. Unset: the built-in consent page (see
    /// `web.consent_page`), or a 404 saying none is configured.
    pub consent_page_url: Option<String>,
    /// The largest request body accepted; a larger one is answered 413.
    pub body_limit_bytes: usize,
    /// How long one request may take before it is answered 408. Its clock starts once
    /// the request line and headers are in.
    pub request_timeout_seconds: u64,
    /// How long the request line and headers may take to arrive, counted from the
    /// connection's start or, on a kept-alive connection, from the next request's
    /// first byte; a connection past it is closed.
    pub header_read_timeout_seconds: u64,
    /// How long a kept-alive connection may wait for its next request's first byte
    /// before it is closed. Behind a proxy that reuses connections, keep it above the
    /// proxy's own idle timeout.
    pub idle_timeout_seconds: u64,
    /// Connections served at once (TLS handshakes included); past it, new ones wait
    /// in the listen queue until one closes.
    pub max_connections: usize,
}

/// The database.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://latchkey.db?mode=rwc` or `postgres://user@host:5432/db`.
    pub url: String,
    /// Pool size.
    pub max_connections: u32,
    /// Run migrations when `serve` starts. Unset: on for SQLite, off for Postgres
    /// (where the helm chart runs `latchkey migrate` as a hook).
    pub migrate_on_start: Option<bool>,
}

/// Sealing of recoverable secrets.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptionConfig {
    /// 32 bytes, base64 (`latchkey key generate`). Required with Postgres.
    #[serde(skip_serializing)]
    pub key: Option<SecretString>,
    /// A file holding the key instead (a mounted Kubernetes secret, say).
    pub key_file: Option<PathBuf>,
}

/// Caller credentials, as argon2 PHC hashes; a role with no hash is never granted.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsConfig {
    /// Admin: ConsumerAdmin, Revoke of anything.
    pub admin_hash: Option<String>,
    /// Web frontends: DescribeRequestToken, Authorize, ListAuthorizations.
    pub frontend_hash: Option<String>,
    /// Internal services: when set, ValidateAccess requires it.
    pub service_hash: Option<String>,
}

/// OAuth 1.0a lifetimes and limits, in seconds.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth1Config {
    /// Request-token lifetime (Jira: 600).
    pub request_token_ttl_seconds: u32,
    /// Access-token lifetime for consumers without their own (7 days).
    pub default_access_token_ttl_seconds: u64,
    /// The most any consumer may set (5 years). Lowering it also cuts tokens already
    /// issued: none is accepted past its issue time plus the maximum.
    pub max_access_token_ttl_seconds: u64,
    /// An access token unused this long ends; unset for none. A consumer's own
    /// setting wins. Checked at each use, so it applies to tokens already issued.
    pub access_token_idle_timeout_seconds: Option<u64>,
    /// How far `oauth_timestamp` may stray from now (300).
    pub timestamp_window_seconds: u32,
    /// Wrong verifiers a request token survives (3).
    pub max_verifier_failures: u32,
}

/// OAuth 2.0 lifetimes (seconds) and switches, the `[oauth2]` section. A client's own
/// lifetimes, set at registration, win over these.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OAuth2Config {
    /// Authorization-code lifetime: 1 to 600 (RFC 6749 caps it at 10 minutes); 60.
    pub code_ttl_seconds: u64,
    /// Access-token lifetime (3600).
    pub access_token_ttl_seconds: u64,
    /// A refresh token unused this long ends (90 days).
    pub refresh_token_idle_seconds: u64,
    /// No refresh token outlives its grant's start plus this (365 days).
    pub refresh_token_max_seconds: u64,
    /// Accept PKCE `plain` (RFC 9700 advises against it); false.
    pub allow_plain_pkce: bool,
}

impl Default for OAuth2Config {
    /// The core's defaults ([`OAuth2Policy::default`]), in seconds.
    fn default() -> Self {
        let p = OAuth2Policy::default();
        Self {
            code_ttl_seconds: whole_seconds(p.code_ttl),
            access_token_ttl_seconds: whole_seconds(p.access_token_ttl),
            refresh_token_idle_seconds: whole_seconds(p.refresh_token_idle),
            refresh_token_max_seconds: whole_seconds(p.refresh_token_max),
            allow_plain_pkce: p.allow_plain_pkce,
        }
    }
}

impl Default for OAuth1Config {
    /// The core's defaults ([`OAuth1Policy::default`]), in seconds.
    fn default() -> Self {
        let p = OAuth1Policy::default();
        Self {
            request_token_ttl_seconds: u32::try_from(whole_seconds(p.request_token_ttl))
                .unwrap_or(u32::MAX),
            default_access_token_ttl_seconds: whole_seconds(p.default_access_token_ttl),
            max_access_token_ttl_seconds: whole_seconds(p.max_access_token_ttl),
            access_token_idle_timeout_seconds: p.access_token_idle_timeout.map(whole_seconds),
            timestamp_window_seconds: u32::try_from(whole_seconds(p.timestamp_window))
                .unwrap_or(u32::MAX),
            max_verifier_failures: p.max_verifier_failures,
        }
    }
}

impl OAuth2Config {
    /// The core's OAuth 2.0 policy.
    pub fn policy(&self) -> OAuth2Policy {
        OAuth2Policy {
            code_ttl: seconds(self.code_ttl_seconds),
            access_token_ttl: seconds(self.access_token_ttl_seconds),
            refresh_token_idle: seconds(self.refresh_token_idle_seconds),
            refresh_token_max: seconds(self.refresh_token_max_seconds),
            allow_plain_pkce: self.allow_plain_pkce,
        }
    }
}

/// The sweeper: when it runs and what it keeps. Schedules are cron expressions with
/// a seconds field (`sec min hour day month weekday`), in UTC.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SweeperConfig {
    /// Run the sweeper inside `serve`. With several replicas on one Postgres, each
    /// runs it and one at a time sweeps; turn it off to sweep with `latchkey sweep`
    /// from a Kubernetes CronJob instead.
    pub enabled: bool,
    /// When used nonces are swept (every minute).
    pub nonces_schedule: String,
    /// When request tokens are swept (every minute).
    pub request_tokens_schedule: String,
    /// When access tokens are swept (every five minutes).
    pub access_tokens_schedule: String,
    /// Rows per delete batch: each batch is one short transaction.
    pub batch_size: u64,
    /// How long expired request tokens are kept (1 hour), so that a late exchange is
    /// told `token_expired` rather than `token_rejected`.
    pub request_token_retention_seconds: u64,
    /// How long ended or revoked access tokens are kept (7 days), so that a client
    /// is told `token_expired` or `token_revoked`. The audit log keeps the history.
    pub access_token_retention_seconds: u64,
}

/// Logging.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: LogFormat,
    /// A tracing filter, e.g. `info` or `latchkey=debug,info`. `RUST_LOG` overrides it.
    pub filter: String,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Default for Config {
    fn default() -> Self {
        let policy = Policy::default();
        let sweep = SweepSettings::default();
        Self {
            grpc: GrpcConfig {
                listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
                max_message_bytes: 4 * 1024 * 1024,
                call_timeout_seconds: 30,
                concurrency_limit: 256,
                cors_allowed_origins: Vec::new(),
                max_concurrent_streams: 256,
                http2_keepalive_interval_seconds: 30,
                http2_keepalive_timeout_seconds: 10,
                tcp_keepalive_seconds: 60,
                max_connection_age_seconds: 30 * 60,
                max_connections: 1024,
                first_byte_timeout_seconds: 10,
            },
            http: HttpConfig {
                listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
                consent_page_url: None,
                body_limit_bytes: 64 * 1024,
                request_timeout_seconds: 10,
                header_read_timeout_seconds: 10,
                idle_timeout_seconds: 60,
                max_connections: 1024,
            },
            public_base_url: policy.public_base_url.clone(),
            database: DatabaseConfig {
                url: "sqlite://latchkey.db?mode=rwc".into(),
                max_connections: 10,
                migrate_on_start: None,
            },
            encryption: EncryptionConfig::default(),
            credentials: CredentialsConfig::default(),
            oauth1: OAuth1Config::default(),
            oauth2: OAuth2Config::default(),
            sweeper: SweeperConfig {
                enabled: true,
                nonces_schedule: "0 * * * * *".into(),
                request_tokens_schedule: "20 * * * * *".into(),
                access_tokens_schedule: "40 */5 * * * *".into(),
                batch_size: sweep.batch_size,
                request_token_retention_seconds: whole_seconds(sweep.request_token_retention),
                access_token_retention_seconds: whole_seconds(sweep.access_token_retention),
            },
            log: LogConfig {
                format: LogFormat::Text,
                filter: "info".into(),
            },
            web: crate::web::WebConfig::default(),
            tls: TlsConfig::default(),
            metrics: MetricsConfig::default(),
            health: HealthConfig::default(),
            shutdown: ShutdownConfig::default(),
        }
    }
}

/// The configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The sources could not be read or merged.
    #[error("configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    /// A value is out of range or inconsistent.
    #[error("configuration: {0}")]
    Invalid(String),
}

/// Longer than this, a header timeout no longer protects against slow clients.
pub(crate) const MAX_HEADER_READ_TIMEOUT_SECONDS: u64 = 300;
/// An hour covers any proxy's idle timeout; longer only holds connections open.
const MAX_IDLE_TIMEOUT_SECONDS: u64 = 3600;
/// Far above what one process's file descriptors allow: a value past it is a typo.
pub(crate) const MAX_CONNECTIONS: usize = 1_000_000;

/// Refuses a value outside `range`, naming its key and the range.
fn check_range<T: PartialOrd + std::fmt::Display>(
    key: &str,
    value: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<(), ConfigError> {
    if range.contains(&value) {
        return Ok(());
    }
    Err(ConfigError::Invalid(format!(
        "{key} must be between {} and {}, not {value}",
        range.start(),
        range.end()
    )))
}

impl HttpConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.consent_page_url {
            latchkey_core::oauth1::consumer_rules::parse_absolute_http_url(url)
                .map_err(|e| ConfigError::Invalid(format!("http.consent_page_url: {e}")))?;
        }
        if self.body_limit_bytes == 0 || self.request_timeout_seconds == 0 {
            return Err(ConfigError::Invalid(
                "http.body_limit_bytes and http.request_timeout_seconds must be above 0".into(),
            ));
        }
        check_range(
            "http.header_read_timeout_seconds",
            self.header_read_timeout_seconds,
            1..=MAX_HEADER_READ_TIMEOUT_SECONDS,
        )?;
        check_range(
            "http.idle_timeout_seconds",
            self.idle_timeout_seconds,
            1..=MAX_IDLE_TIMEOUT_SECONDS,
        )?;
        check_range(
            "http.max_connections",
            self.max_connections,
            1..=MAX_CONNECTIONS,
        )?;
        Ok(())
    }
}

impl Config {
    /// Loads defaults, then the TOML file (`latchkey.toml` unless `file` names
    /// another; a missing default file is fine, a missing named file is not), then
    /// the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) if !path.exists() => {
                return Err(ConfigError::Invalid(format!(
                    "no configuration file at {}",
                    path.display()
                )));
            }
            Some(path) => figment = figment.merge(Toml::file(path)),
            None => figment = figment.merge(Toml::file("latchkey.toml")),
        }
        let config: Config = figment
            // LATCHKEY_CONFIG names the file (read by the CLI) and LATCHKEY_TEST_* belong
            // to the test suite; neither is a setting.
            .merge(
                Env::prefixed("LATCHKEY_")
                    .filter(|key| {
                        key != "config" && !key.as_str().to_ascii_lowercase().starts_with("test_")
                    })
                    .split("__"),
            )
            .extract()
            .map_err(|e| ConfigError::Load(Box::new(e)))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let base =
            latchkey_core::oauth1::consumer_rules::parse_absolute_http_url(&self.public_base_url)
                .map_err(|e| ConfigError::Invalid(format!("public_base_url: {e}")))?;
        // Signed URLs are this base plus the request's path and query.
        if base.query().is_some() || base.fragment().is_some() {
            return Err(ConfigError::Invalid(
                "public_base_url: no query or fragment; signed URLs are this base plus the request's path and query".into(),
            ));
        }
        self.http.validate()?;
        self.web.validate().map_err(ConfigError::Invalid)?;
        self.web
            .validate_development_user(&base, self.is_sqlite())
            .map_err(ConfigError::Invalid)?;
        self.grpc.validate()?;
        self.tls.validate()?;
        self.health.validate()?;
        // Lifetimes, limits and retention: the core's bounds.
        self.policy()
            .check()
            .and_then(|()| self.sweep_settings().check())
            .map_err(|e| {
                let unit = if e.is_duration { "_seconds" } else { "" };
                ConfigError::Invalid(format!("{}.{}{unit}: {}", e.section, e.field, e.rule))
            })?;
        self.sweeper.validate()?;
        if self.database.max_connections == 0 {
            return Err(ConfigError::Invalid(
                "database.max_connections must be above 0".into(),
            ));
        }
        Ok(())
    }

    /// Whether the database is SQLite.
    pub fn is_sqlite(&self) -> bool {
        self.database.url.starts_with("sqlite:")
    }

    /// Whether `serve` migrates at start-up.
    pub fn migrate_on_start(&self) -> bool {
        self.database
            .migrate_on_start
            .unwrap_or_else(|| self.is_sqlite())
    }

    /// The path of the SQLite database file, if the database is an SQLite file.
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        let rest = self
            .database
            .url
            .strip_prefix("sqlite://")
            .or_else(|| self.database.url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or_default();
        if path.is_empty() || path == ":memory:" {
            None
        } else {
            Some(PathBuf::from(path))
        }
    }

    /// The sweeper settings this configuration describes.
    pub fn sweep_settings(&self) -> SweepSettings {
        let s = &self.sweeper;
        SweepSettings {
            batch_size: s.batch_size,
            request_token_retention: seconds(s.request_token_retention_seconds),
            access_token_retention: seconds(s.access_token_retention_seconds),
        }
    }

    /// The authority policy this configuration describes.
    pub fn policy(&self) -> Policy {
        let o = &self.oauth1;
        Policy {
            oauth1: OAuth1Policy {
                request_token_ttl: seconds(u64::from(o.request_token_ttl_seconds)),
                default_access_token_ttl: seconds(o.default_access_token_ttl_seconds),
                max_access_token_ttl: seconds(o.max_access_token_ttl_seconds),
                access_token_idle_timeout: o.access_token_idle_timeout_seconds.map(seconds),
                timestamp_window: seconds(u64::from(o.timestamp_window_seconds)),
                max_verifier_failures: o.max_verifier_failures,
            },
            public_base_url: self.public_base_url.clone(),
            oauth2: self.oauth2.policy(),
            require_service_credential: self
                .credentials
                .service_hash
                .as_deref()
                .is_some_and(|h| !h.trim().is_empty()),
        }
    }
}

/// Whole seconds as a duration; configuration values are range-checked on load (a
/// value too large for a duration becomes the largest, which the check refuses).
fn seconds(s: u64) -> chrono::Duration {
    i64::try_from(s)
        .ok()
        .and_then(chrono::Duration::try_seconds)
        .unwrap_or(chrono::Duration::MAX)
}

/// A duration as whole seconds, for the configuration's defaults.
fn whole_seconds(d: chrono::Duration) -> u64 {
    u64::try_from(d.num_seconds()).unwrap_or(0)
}

impl SweeperConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        for (key, schedule) in self.schedules() {
            crate::scheduler::check_schedule(schedule)
                .map_err(|e| ConfigError::Invalid(format!("sweeper.{key}: {e}")))?;
        }
        Ok(())
    }

    /// Each job's configuration key and cron expression.
    pub fn schedules(&self) -> [(&'static str, &str); 3] {
        [
            ("nonces_schedule", &self.nonces_schedule),
            ("request_tokens_schedule", &self.request_tokens_schedule),
            ("access_tokens_schedule", &self.access_tokens_schedule),
        ]
    }
}

#[cfg(test)]
// figment's Jail returns its own large error type.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn the_defaults_need_no_setup() {
        Jail::expect_with(|_| {
            let config = Config::load(None).expect("defaults load");
            assert!(config.is_sqlite());
            assert!(config.migrate_on_start());
            assert_eq!(config.sqlite_file(), Some(PathBuf::from("latchkey.db")));
            assert_eq!(
                config.policy().oauth1.request_token_ttl,
                chrono::Duration::minutes(10)
            );
            assert_eq!(
                config.policy().oauth1.default_access_token_ttl,
                chrono::Duration::days(7)
            );
            Ok(())
        });
    }

    #[test]
    fn the_http_listener_matches_the_default_public_base_url_and_refuses_a_bad_consent_page() {
        Jail::expect_with(|jail| {
            let config = Config::load(None).expect("defaults load");
            assert_eq!(config.http.listen.to_string(), "127.0.0.1:8080");
            assert_eq!(config.public_base_url, "http://localhost:8080");
            assert_eq!(config.http.consent_page_url, None);
            jail.set_env("LATCHKEY_HTTP__CONSENT_PAGE_URL", "/consent");
            let error = Config::load(None).unwrap_err().to_string();
            assert!(error.contains("http.consent_page_url"), "{error}");
            jail.set_env(
                "LATCHKEY_HTTP__CONSENT_PAGE_URL",
                "https://frontend.example.com/consent",
            );
            jail.set_env("LATCHKEY_HTTP__BODY_LIMIT_BYTES", "0");
            assert!(Config::load(None).is_err());
            Ok(())
        });
    }

    #[test]
    fn connection_limits_have_bounded_defaults_and_out_of_range_values_are_refused() {
        Jail::expect_with(|jail| {
            let config = Config::load(None).expect("defaults load");
            assert_eq!(config.http.header_read_timeout_seconds, 10);
            assert_eq!(config.http.idle_timeout_seconds, 60);
            assert_eq!(config.http.max_connections, 1024);
            assert_eq!(config.grpc.max_concurrent_streams, 256);
            assert_eq!(config.grpc.max_connections, 1024);
            assert_eq!(config.grpc.first_byte_timeout_seconds, 10);
            for (key, refused) in [
                ("HTTP__HEADER_READ_TIMEOUT_SECONDS", "0"),
                ("HTTP__IDLE_TIMEOUT_SECONDS", "86400"),
                ("HTTP__MAX_CONNECTIONS", "0"),
                ("GRPC__MAX_CONCURRENT_STREAMS", "10"),
                ("GRPC__HTTP2_KEEPALIVE_INTERVAL_SECONDS", "0"),
                ("GRPC__HTTP2_KEEPALIVE_TIMEOUT_SECONDS", "600"),
                ("GRPC__TCP_KEEPALIVE_SECONDS", "0"),
                ("GRPC__MAX_CONNECTION_AGE_SECONDS", "0"),
                ("GRPC__MAX_CONNECTIONS", "0"),
                ("GRPC__FIRST_BYTE_TIMEOUT_SECONDS", "0"),
            ] {
                jail.set_env(format!("LATCHKEY_{key}"), refused);
                let error = Config::load(None).unwrap_err().to_string();
                let named = key.to_ascii_lowercase().replace("__", ".");
                assert!(error.contains(&named), "{key}={refused}: {error}");
                jail.clear_env();
            }
            jail.set_env("LATCHKEY_HTTP__HEADER_READ_TIMEOUT_SECONDS", "5");
            assert_eq!(
                Config::load(None).unwrap().http.header_read_timeout_seconds,
                5
            );
            Ok(())
        });
    }

    #[test]
    fn the_environment_overrides_the_file_which_overrides_the_defaults() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "latchkey.toml",
                r#"
                public_base_url = "https://auth.example.com"
                [database]
                url = "postgres://postgres@db/latchkey"
                [oauth1]
                timestamp_window_seconds = 60
                "#,
            )?;
            jail.set_env("LATCHKEY_OAUTH1__TIMESTAMP_WINDOW_SECONDS", "120");
            jail.set_env("LATCHKEY_CONFIG", "latchkey.toml");
            jail.set_env("LATCHKEY_TEST_POSTGRES_URL", "postgres://elsewhere/test");
            let config = Config::load(None).expect("loads");
            assert_eq!(config.public_base_url, "https://auth.example.com");
            assert!(!config.is_sqlite());
            assert!(
                !config.migrate_on_start(),
                "Postgres migrates through `latchkey migrate`"
            );
            assert_eq!(config.oauth1.timestamp_window_seconds, 120);
            assert_eq!(config.oauth1.request_token_ttl_seconds, 600);
            Ok(())
        });
    }

    #[test]
    fn unusable_settings_are_refused_with_the_key_named() {
        Jail::expect_with(|jail| {
            jail.set_env("LATCHKEY_PUBLIC_BASE_URL", "not a url");
            let error = Config::load(None).unwrap_err().to_string();
            assert!(error.contains("public_base_url"), "{error}");
            jail.set_env("LATCHKEY_PUBLIC_BASE_URL", "https://ok.example.com/?x=1");
            let error = Config::load(None).unwrap_err().to_string();
            assert!(error.contains("no query or fragment"), "{error}");
            jail.set_env("LATCHKEY_PUBLIC_BASE_URL", "https://ok.example.com");
            jail.set_env(
                "LATCHKEY_OAUTH1__DEFAULT_ACCESS_TOKEN_TTL_SECONDS",
                "999999999999",
            );
            let error = Config::load(None).unwrap_err().to_string();
            assert!(
                error.contains("default_access_token_ttl_seconds"),
                "{error}"
            );
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.set_env("LATCHKEY_SWEEPER__NONCES_SCHEDULE", "every minute");
            let error = Config::load(None).unwrap_err().to_string();
            assert!(error.contains("sweeper.nonces_schedule"), "{error}");
            jail.set_env("LATCHKEY_SWEEPER__NONCES_SCHEDULE", "*/5 * * * *");
            let error = Config::load(None).unwrap_err().to_string();
            assert!(error.contains("seconds field"), "five fields: {error}");
            jail.set_env("LATCHKEY_SWEEPER__NONCES_SCHEDULE", "*/5 * * * * *");
            assert!(Config::load(None).is_ok());
            jail.set_env("LATCHKEY_SWEEPER__BATCH_SIZE", "0");
            assert!(Config::load(None).is_err());
            jail.set_env("LATCHKEY_SWEEPER__BATCH_SIZE", "500");
            jail.set_env("LATCHKEY_OAUTH1__ACCESS_TOKEN_IDLE_TIMEOUT_SECONDS", "0");
            let error = Config::load(None).unwrap_err().to_string();
            assert!(
                error.contains("access_token_idle_timeout_seconds"),
                "{error}"
            );
            jail.set_env(
                "LATCHKEY_OAUTH1__ACCESS_TOKEN_IDLE_TIMEOUT_SECONDS",
                "86400",
            );
            let config = Config::load(None).expect("valid");
            assert_eq!(
                config.policy().oauth1.access_token_idle_timeout,
                Some(chrono::Duration::days(1))
            );
            assert_eq!(config.sweep_settings().batch_size, 500);
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.set_env("LATCHKEY_DATABSE__URL", "typo");
            assert!(
                Config::load(None).is_err(),
                "an unknown key is an error, not ignored"
            );
            assert!(Config::load(Some(Path::new("missing.toml"))).is_err());
            Ok(())
        });
    }

    #[test]
    fn the_development_user_still_starts_on_loopback_http_with_sqlite() {
        Jail::expect_with(|jail| {
            jail.set_env("LATCHKEY_WEB__DEVELOPMENT_USER", "dev");
            let config = Config::load(None).expect("the defaults are loopback http on SQLite");
            assert_eq!(config.web.development_user.as_deref(), Some("dev"));
            Ok(())
        });
    }

    #[test]
    fn the_development_user_is_refused_behind_an_https_public_base_url() {
        Jail::expect_with(|jail| {
            jail.set_env("LATCHKEY_WEB__DEVELOPMENT_USER", "dev");
            jail.set_env("LATCHKEY_PUBLIC_BASE_URL", "https://auth.example.com");
            let error = Config::load(None).unwrap_err().to_string();
            assert!(error.contains("web.development_user"), "{error}");
            assert!(error.contains("https public_base_url"), "says why: {error}");
            assert!(
                error.contains("web.user_header"),
                "says what to do: {error}"
            );
            Ok(())
        });
    }

    #[test]
    fn the_development_user_is_refused_on_postgres() {
        Jail::expect_with(|jail| {
            jail.set_env("LATCHKEY_WEB__DEVELOPMENT_USER", "dev");
            jail.set_env("LATCHKEY_DATABASE__URL", "postgres://postgres@db/latchkey");
            let error = Config::load(None).unwrap_err().to_string();
            assert!(error.contains("web.development_user"), "{error}");
            assert!(error.contains("Postgres database"), "says why: {error}");
            assert!(
                error.contains("web.user_header"),
                "says what to do: {error}"
            );
            Ok(())
        });
    }
}
