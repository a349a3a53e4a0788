//! Building the service from its configuration: the store, the sealing key, the
//! authority, and the gRPC and HTTP servers bound to their ports. `main` only parses
//! arguments and calls in here; the end-to-end tests build the same [`Application`] on
//! port 0.

use crate::config::{Config, SweeperConfig};
use crate::gate::CredentialGate;
use crate::grpc::{AdminService, AuthorityService, Handlers};
use crate::http::HttpServer;
use crate::outbound::Outbound;
use crate::scheduler::SweepScheduler;
use crate::web::WebPages;
use latchkey_api::v1::consumer_admin_server::ConsumerAdminServer;
use latchkey_api::v1::token_authority_server::TokenAuthorityServer;
use latchkey_core::authority::Authority;
use latchkey_core::cipher::SecretCipher;
use latchkey_core::clock::{Clock, SystemClock};
use latchkey_core::credentials::CallerCredentials;
use latchkey_core::secret::OsRandomness;
use latchkey_core::sweep::Sweeper;
use latchkey_store::SeaStore;
use secrecy::ExposeSecret;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpListener;

/// How long closing the database pool may take once calls were cut at the end of the
/// grace period.
const POOL_CLOSE_AFTER_CUT: std::time::Duration = std::time::Duration::from_secs(1);

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Database(#[from] latchkey_core::error::StoreError),
    /// The encryption key is missing or malformed.
    #[error("encryption key: {0}")]
    Key(String),
    /// A credential hash is malformed.
    #[error(transparent)]
    Credentials(#[from] latchkey_core::credentials::CredentialConfigError),
    /// The TLS files are unusable.
    #[error("tls: {0}")]
    Tls(#[from] crate::tls::TlsError),
    /// The outbound HTTP client could not be built.
    #[error("outbound HTTP client: {0}")]
    Outbound(#[from] reqwest::Error),
    /// The listener could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The configured address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The gRPC server failed.
    #[error("the gRPC server failed: {0}")]
    Grpc(#[from] tonic::transport::Error),
    /// The HTTP server failed.
    #[error("the HTTP server failed: {0}")]
    Http(#[from] std::io::Error),
    /// The sweep scheduler could not start.
    #[error("the sweep scheduler failed: {0}")]
    Scheduler(#[from] tokio_cron_scheduler::JobSchedulerError),
    /// The metrics listener failed.
    #[error("the metrics server failed: {0}")]
    Metrics(std::io::Error),
    /// The reflection service could not read the descriptors.
    #[error("gRPC reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
}

/// The store, the authority over it and the sweeper, as `serve` and the CLI both
/// need them.
pub struct Backend {
    /// The database.
    pub store: Arc<SeaStore>,
    /// The authority.
    pub authority: Arc<Authority>,
    /// Removes ended rows, with the authority's policy.
    pub sweeper: Arc<Sweeper>,
}

/// Opens the database (migrating it when configured) and builds the authority.
pub async fn open_backend(
    config: &Config,
    clock: Arc<dyn Clock>,
    migrate: bool,
) -> Result<Backend, StartupError> {
    let cipher = resolve_cipher(config)?;
    let store =
        Arc::new(SeaStore::connect(&config.database.url, config.database.max_connections).await?);
    if migrate {
        store.migrate().await?;
    }
    let authority = Arc::new(Authority::new(
        store.clone(),
        clock.clone(),
        Arc::new(OsRandomness),
        cipher,
        config.policy(),
    ));
    let sweeper = Arc::new(Sweeper::new(
        store.clone(),
        clock,
        config.policy(),
        config.sweep_settings(),
    ));
    Ok(Backend {
        store,
        authority,
        sweeper,
    })
}

/// The sealing key: configured, read from a file, or, for an SQLite file with none
/// configured, a development key generated once and kept beside the database.
fn resolve_cipher(config: &Config) -> Result<SecretCipher, StartupError> {
    let bad = |e: latchkey_core::cipher::CipherError| StartupError::Key(e.to_string());
    if let Some(key) = &config.encryption.key {
        return SecretCipher::from_base64(key.expose_secret()).map_err(bad);
    }
    if let Some(path) = &config.encryption.key_file {
        let key = std::fs::read_to_string(path)
            .map_err(|e| StartupError::Key(format!("cannot read {}: {e}", path.display())))?;
        return SecretCipher::from_base64(&key).map_err(bad);
    }
    if !config.is_sqlite() {
        return Err(StartupError::Key(
            "no encryption key is configured. With Postgres, set encryption.key \
             (LATCHKEY_ENCRYPTION__KEY) or encryption.key_file; `latchkey key generate` makes one. \
             Keep it safe: without it, stored token secrets and shared secrets cannot be opened."
                .into(),
        ));
    }
    match config.sqlite_file() {
        Some(database) => development_key_beside(&database),
        None => {
            tracing::warn!("DEVELOPMENT MODE: in-memory database with a throwaway encryption key");
            SecretCipher::from_base64(&SecretCipher::generate_key()).map_err(bad)
        }
    }
}

fn development_key_beside(database: &Path) -> Result<SecretCipher, StartupError> {
    let mut name = database.as_os_str().to_owned();
    name.push(".key");
    let path = std::path::PathBuf::from(name);
    let key = match std::fs::read_to_string(&path) {
        Ok(key) => key,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SecretCipher::generate_key();
            write_private(&path, &key)
                .map_err(|e| StartupError::Key(format!("cannot write {}: {e}", path.display())))?;
            key
        }
        Err(e) => {
            return Err(StartupError::Key(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    tracing::warn!(
        key_file = %path.display(),
        "DEVELOPMENT ENCRYPTION KEY: secrets are sealed with a key generated on this machine and kept beside \
         the database. Configure encryption.key or encryption.key_file for anything but a trial."
    );
    SecretCipher::from_base64(&key).map_err(|e| StartupError::Key(e.to_string()))
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents.as_bytes())
}

/// A built service, bound to its port, not yet serving.
pub struct Application {
    listener: TcpListener,
    port: u16,
    backend: Backend,
    gate: Arc<CredentialGate>,
    outbound: Outbound,
    sweeper_config: SweeperConfig,
    http: HttpServer,
    ops: crate::operations::Operations,
}

impl Application {
    /// Builds the service with the wall clock.
    pub async fn build(config: Config) -> Result<Application, StartupError> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// Builds the service with the given clock (tests move it to cross expiries).
    pub async fn build_with_clock(
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Application, StartupError> {
        let backend = open_backend(&config, clock, config.migrate_on_start()).await?;
        // The one credential gate, before any listener exists.
        let c = &config.credentials;
        let gate = Arc::new(CredentialGate::new(CallerCredentials::new(
            c.admin_hash.as_deref(),
            c.frontend_hash.as_deref(),
            c.service_hash.as_deref(),
            backend.authority.argon2_pool(),
        )?));
        let address = config.grpc.listen;
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| StartupError::Bind { address, source })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { address, source })?
            .port();
        let outbound = Outbound::new()?;
        let pages = WebPages::new(
            &config.web,
            backend.authority.clone(),
            gate.clone(),
            outbound.clone(),
            &config.public_base_url,
        );
        let http = HttpServer::bind(
            &config.http,
            &config.public_base_url,
            backend.authority.clone(),
            gate.clone(),
            pages,
        )
        .await
        .map_err(|source| StartupError::Bind {
            address: config.http.listen,
            source,
        })?;
        let ops = crate::operations::Operations::build(&config, &backend).await?;
        let http = ops.wrap_http(http);
        Ok(Application {
            listener,
            port,
            backend,
            gate,
            outbound,
            sweeper_config: config.sweeper.clone(),
            http,
            ops,
        })
    }

    /// The bound port (useful when configured as 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The sweeper, which the scheduler runs; tests run it directly.
    pub fn sweeper(&self) -> Arc<Sweeper> {
        self.backend.sweeper.clone()
    }

    /// The bound HTTP port (useful when configured as 0).
    pub fn http_port(&self) -> u16 {
        self.http.port()
    }

    /// The bound metrics port, unless metrics are off.
    pub fn metrics_port(&self) -> Option<u16> {
        self.ops.metrics_port()
    }

    /// Serves until SIGTERM or Ctrl-C.
    pub async fn run_until_stopped(self) -> Result<(), ServeError> {
        self.run_until(crate::shutdown::signal()).await
    }

    /// Starts the sweep scheduler (unless disabled) and serves gRPC, HTTP and metrics
    /// until `stop` completes; then reports NOT_SERVING, stops accepting, gives
    /// in-flight calls the grace period to finish, stops the scheduler and closes the
    /// pool. If any server fails, all stop.
    pub async fn run_until(self, stop: impl Future<Output = ()> + Send) -> Result<(), ServeError> {
        let scheduler = if self.sweeper_config.enabled {
            Some(SweepScheduler::start(self.backend.sweeper.clone(), &self.sweeper_config).await?)
        } else {
            tracing::info!("the sweeper is disabled in this process");
            None
        };
        let (relay, stopping) = crate::shutdown::relay(stop);
        let handlers = Handlers::new(
            self.backend.authority.clone(),
            self.gate.clone(),
            self.ops.metrics(),
            self.outbound.clone(),
        );
        let (routes, health) = self.ops.grpc_routes(
            TokenAuthorityServer::new(AuthorityService(handlers.clone())),
            ConsumerAdminServer::new(AdminService(handlers)),
        )?;
        crate::health::prepare(&health).await;
        tokio::spawn(crate::health::probe(
            health,
            self.backend.store.clone(),
            self.ops.probe_interval(),
            self.ops.probe_timeout(),
            stopping.clone(),
        ));
        tracing::info!(port = self.port, "serving latchkey.v1 over gRPC");
        let mut ops = self.ops;
        let metrics = crate::operations::Operations::serve_metrics(
            ops.take_metrics_server(),
            stopping.clone().stopped(),
        );
        let grpc = ops.serve_grpc(routes, self.listener, stopping.clone().stopped());
        let http = async {
            self.http
                .serve(stopping.clone().stopped())
                .await
                .map_err(ServeError::from)
        };
        let mut servers = Box::pin(async { tokio::try_join!(grpc, http, metrics) });
        let grace = ops.grace_period();
        let mut cut = false;
        let served = tokio::select! {
            served = &mut servers => served,
            () = relay => match tokio::time::timeout(grace, &mut servers).await {
                Ok(served) => served,
                Err(_) => {
                    tracing::warn!(grace_seconds = grace.as_secs(), "calls still running after the grace period are cut");
                    cut = true;
                    Ok(((), (), ()))
                }
            },
        };
        drop(servers);
        if let Some(scheduler) = scheduler {
            scheduler.shutdown().await;
        }
        // Closing the pool waits for its connections to come back; calls cut at the
        // end of the grace period may still hold some until the process exits.
        let close = self.backend.store.close();
        if cut {
            let _ = tokio::time::timeout(POOL_CLOSE_AFTER_CUT, close).await;
        } else {
            close.await.ok();
        }
        tracing::info!("stopped");
        served.map(|_| ())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn postgres_without_a_key_refuses_to_start_and_says_why() {
        let mut config = Config::default();
        config.database.url = "postgres://postgres@127.0.0.1/x".into();
        let error = resolve_cipher(&config).unwrap_err().to_string();
        assert!(error.contains("encryption.key"), "{error}");
    }

    #[test]
    fn an_sqlite_file_gets_a_development_key_kept_beside_it_and_reused() {
        let dir = std::env::temp_dir().join(format!("latchkey-key-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut config = Config::default();
        config.database.url = format!("sqlite://{}/data.db?mode=rwc", dir.display());
        let first = resolve_cipher(&config).unwrap();
        let key_file = dir.join("data.db.key");
        assert!(key_file.exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let sealed = first.seal("secret", "ctx").unwrap();
        let second = resolve_cipher(&config).unwrap();
        assert!(
            second.open(&sealed, "ctx").is_ok(),
            "the same key is used again"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_configured_key_must_be_32_bytes_of_base64() {
        let mut config = Config::default();
        config.encryption.key = Some("dG9vIHNob3J0".to_owned().into());
        assert!(resolve_cipher(&config).is_err());
    }
}
