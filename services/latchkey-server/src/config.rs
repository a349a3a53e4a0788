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
use latchkey_core::policy::Policy;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Everything `latchkey` can be told.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The gRPC listener.
    pub grpc: GrpcConfig,
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
    /// Logging.
    pub log: LogConfig,
}

/// The gRPC listener.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GrpcConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
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
    /// The most any consumer may set (5 years).
    pub max_access_token_ttl_seconds: u64,
    /// How far `oauth_timestamp` may stray from now (300).
    pub timestamp_window_seconds: u32,
    /// Wrong verifiers a request token survives (3).
    pub max_verifier_failures: u32,
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
        Self {
            grpc: GrpcConfig {
                listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            },
            public_base_url: policy.public_base_url.clone(),
            database: DatabaseConfig {
                url: "sqlite://latchkey.db?mode=rwc".into(),
                max_connections: 10,
                migrate_on_start: None,
            },
            encryption: EncryptionConfig::default(),
            credentials: CredentialsConfig::default(),
            oauth1: OAuth1Config {
                request_token_ttl_seconds: 600,
                default_access_token_ttl_seconds: 7 * 24 * 3600,
                max_access_token_ttl_seconds: 5 * 365 * 24 * 3600,
                timestamp_window_seconds: 300,
                max_verifier_failures: 3,
            },
            log: LogConfig {
                format: LogFormat::Text,
                filter: "info".into(),
            },
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
        latchkey_core::consumer::parse_absolute_http_url(&self.public_base_url)
            .map_err(|e| ConfigError::Invalid(format!("public_base_url: {e}")))?;
        let o = &self.oauth1;
        if o.request_token_ttl_seconds == 0
            || o.timestamp_window_seconds == 0
            || o.max_verifier_failures == 0
        {
            return Err(ConfigError::Invalid(
                "oauth1 lifetimes, window and verifier failures must be above 0".into(),
            ));
        }
        if o.default_access_token_ttl_seconds == 0
            || o.default_access_token_ttl_seconds > o.max_access_token_ttl_seconds
        {
            return Err(ConfigError::Invalid(
                "oauth1.default_access_token_ttl_seconds must be above 0 and at most max_access_token_ttl_seconds".into(),
            ));
        }
        if i64::try_from(o.max_access_token_ttl_seconds).map_or(true, |s| s > 100 * 365 * 24 * 3600)
        {
            return Err(ConfigError::Invalid(
                "oauth1.max_access_token_ttl_seconds is above 100 years".into(),
            ));
        }
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

    /// The authority policy this configuration describes.
    pub fn policy(&self) -> Policy {
        let o = &self.oauth1;
        let seconds =
            |s: u64| chrono::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1000));
        Policy {
            request_token_ttl: seconds(u64::from(o.request_token_ttl_seconds)),
            default_access_token_ttl: seconds(o.default_access_token_ttl_seconds),
            max_access_token_ttl: seconds(o.max_access_token_ttl_seconds),
            timestamp_window: seconds(u64::from(o.timestamp_window_seconds)),
            max_verifier_failures: o.max_verifier_failures,
            public_base_url: self.public_base_url.clone(),
            require_service_credential: self
                .credentials
                .service_hash
                .as_deref()
                .is_some_and(|h| !h.trim().is_empty()),
        }
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
                config.policy().request_token_ttl,
                chrono::Duration::minutes(10)
            );
            assert_eq!(
                config.policy().default_access_token_ttl,
                chrono::Duration::days(7)
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
            jail.set_env("LATCHKEY_DATABSE__URL", "typo");
            assert!(
                Config::load(None).is_err(),
                "an unknown key is an error, not ignored"
            );
            assert!(Config::load(Some(Path::new("missing.toml"))).is_err());
            Ok(())
        });
    }
}
