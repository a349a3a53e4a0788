//! `spawn_app`: a fresh database, a server on port 0, and clients for it.

use latchkey_api::v1::consumer_admin_client::ConsumerAdminClient;
use latchkey_api::v1::token_authority_client::TokenAuthorityClient;
use latchkey_core::clock::ManualClock;
use latchkey_core::credentials::digest_credential;
use latchkey_core::sweep::Sweeper;
use latchkey_server::config::Config;
use latchkey_server::startup::Application;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use std::sync::{Arc, LazyLock};
use tonic::transport::Channel;

/// The credentials every test server is configured with.
pub const ADMIN: &str = "test-admin-credential";
pub const FRONTEND: &str = "test-frontend-credential";
pub const SERVICE: &str = "test-service-credential";

/// Their `sha256:` digests, as `latchkey credential generate` prints them.
static HASHES: LazyLock<(String, String, String)> = LazyLock::new(|| {
    (
        digest_credential(ADMIN),
        digest_credential(FRONTEND),
        digest_credential(SERVICE),
    )
});

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

fn postgres_admin_url() -> String {
    std::env::var("LATCHKEY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Where a test's data lives; removed by [`TestApp::cleanup`].
pub enum TestDatabase {
    Sqlite(std::path::PathBuf),
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    /// A fresh, empty database, or `None` when Postgres is unreachable off CI.
    pub async fn create(backend: Backend) -> Option<(TestDatabase, String)> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        match backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("latchkey-test-{id}.db"));
                let url = format!("sqlite://{}?mode=rwc", path.display());
                Some((TestDatabase::Sqlite(path), url))
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url();
                let admin = match Database::connect(&admin_url).await {
                    Ok(admin) => admin,
                    Err(error) if !on_ci() => {
                        eprintln!(
                            "NOTE: Postgres at {admin_url} is unreachable ({error}); skipping this Postgres test. CI=true makes this a failure."
                        );
                        return None;
                    }
                    Err(error) => {
                        panic!("CI=true and Postgres at {admin_url} is unreachable: {error}")
                    }
                };
                let name = format!("lk_test_{id}");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .unwrap();
                let _ = admin.close().await;
                let (base, query) = match admin_url.rsplit_once('/') {
                    Some((base, rest)) => (
                        base.to_owned(),
                        rest.split_once('?')
                            .map(|(_, q)| format!("?{q}"))
                            .unwrap_or_default(),
                    ),
                    None => panic!("LATCHKEY_TEST_POSTGRES_URL must end with /database"),
                };
                let url = format!("{base}/{name}{query}");
                Some((TestDatabase::Postgres { admin_url, name }, url))
            }
        }
    }

    /// Removes the database (its file, or drops it on the server).
    pub async fn drop_it(&self) {
        match self {
            TestDatabase::Sqlite(path) => {
                for suffix in ["", "-wal", "-shm", ".key"] {
                    let mut file = path.as_os_str().to_owned();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
            }
            TestDatabase::Postgres { admin_url, name } => {
                if let Ok(admin) = Database::connect(admin_url).await {
                    let _ = admin
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await;
                    let _ = admin.close().await;
                }
            }
        }
    }
}

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    pub backend: Backend,
    pub port: u16,
    /// The HTTP listener's port (Jira's OAuth endpoints).
    pub http_port: u16,
    /// The Prometheus listener's port.
    pub metrics_port: Option<u16>,
    pub clock: Arc<ManualClock>,
    pub authority: TokenAuthorityClient<Channel>,
    pub admin: ConsumerAdminClient<Channel>,
    pub config: Config,
    /// The server's sweeper; tests run it directly, on the server's clock.
    pub sweeper: Arc<Sweeper>,
    /// `None` for a replica: the first app owns the database.
    database: Option<TestDatabase>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

/// Starts a server with the test credentials and the default policy.
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |_| {}).await
}

/// Starts a server after `adjust` has changed its configuration.
pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Option<TestApp> {
    crate::logs::install();
    let (database, url) = TestDatabase::create(backend).await?;
    let mut config = Config::default();
    config.grpc.listen = "127.0.0.1:0".parse().unwrap();
    config.http.listen = "127.0.0.1:0".parse().unwrap();
    config.metrics.listen = "127.0.0.1:0".parse().unwrap();
    config.database.url = url;
    config.database.migrate_on_start = Some(true);
    config.database.max_connections = 8;
    config.encryption.key = Some(latchkey_core::cipher::SecretCipher::generate_key().into());
    config.public_base_url = "https://auth.example.com".into();
    config.credentials.admin_hash = Some(HASHES.0.clone());
    config.credentials.frontend_hash = Some(HASHES.1.clone());
    // Tests run sweeps themselves, at the moments they choose; the scheduler's own
    // tests turn it on.
    config.sweeper.enabled = false;
    adjust(&mut config);

    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    Some(start(backend, config, clock, Some(database)).await)
}

/// Runs a server on `config`; it drops `database` at cleanup, if given.
async fn start(
    backend: Backend,
    config: Config,
    clock: Arc<ManualClock>,
    database: Option<TestDatabase>,
) -> TestApp {
    let app = Application::build_with_clock(config.clone(), clock.clone())
        .await
        .expect("the server builds");
    let port = app.port();
    let sweeper = app.sweeper();
    let http_port = app.http_port();
    let metrics_port = app.metrics_port();
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let server = tokio::spawn(async move {
        app.run_until(async {
            let _ = stopped.await;
        })
        .await
        .expect("the server runs");
    });
    let endpoint = Channel::from_shared(format!("http://127.0.0.1:{port}")).unwrap();
    // Over TLS the test makes its own channels; this plain one is never used.
    let channel = if config.tls.enabled() {
        endpoint.connect_lazy()
    } else {
        endpoint.connect().await.unwrap()
    };
    TestApp {
        backend,
        port,
        http_port,
        metrics_port,
        clock,
        authority: TokenAuthorityClient::new(channel.clone()),
        admin: ConsumerAdminClient::new(channel),
        config,
        sweeper,
        database,
        stop: Some(stop),
        server: Some(server),
    }
}

/// The service credential's hash, for tests that require it.
pub fn service_hash() -> String {
    HASHES.2.clone()
}

impl TestApp {
    /// Stops the server and removes the database; says whether the server stopped
    /// within 5 s.
    pub async fn cleanup(mut self) -> bool {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let mut stopped = true;
        if let Some(server) = self.server.take() {
            stopped = tokio::time::timeout(std::time::Duration::from_secs(5), server)
                .await
                .is_ok_and(|joined| joined.is_ok());
        }
        if let Some(database) = &self.database {
            database.drop_it().await;
        }
        stopped
    }

    /// A second server on this app's database and clock, with its own ports and
    /// caches: another replica. Clean it up before this app.
    pub async fn spawn_replica(&self) -> TestApp {
        let mut config = self.config.clone();
        config.grpc.listen = "127.0.0.1:0".parse().unwrap();
        config.http.listen = "127.0.0.1:0".parse().unwrap();
        config.metrics.listen = "127.0.0.1:0".parse().unwrap();
        start(self.backend, config, self.clock.clone(), None).await
    }

    /// Sends the stop signal, as SIGTERM would, without waiting; `cleanup` then waits.
    pub fn send_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Where this app's data lives (a test that takes its Postgres database away needs
    /// the name).
    pub fn database(&self) -> &TestDatabase {
        self.database
            .as_ref()
            .expect("a replica does not own its database")
    }

    /// A connection of its own to the app's database, for seeding and counting rows
    /// behind the server's back.
    pub async fn sql(&self) -> DatabaseConnection {
        Database::connect(&self.config.database.url).await.unwrap()
    }

    /// Rows in a table.
    pub async fn count_rows(&self, table: &str) -> i64 {
        let db = self.sql().await;
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .unwrap()
            .unwrap();
        let count = row.try_get::<i64>("", "n").unwrap();
        let _ = db.close().await;
        count
    }

    /// The server clock's reading, in Unix seconds.
    pub fn now_seconds(&self) -> i64 {
        latchkey_core::clock::Clock::now(self.clock.as_ref()).timestamp()
    }

    /// Moves the server's clock.
    pub fn advance(&self, by: chrono::Duration) {
        self.clock.advance(by);
    }
}

/// A request carrying `authorization: Bearer <credential>`.
pub fn with_credential<T>(message: T, credential: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {credential}").parse().unwrap(),
    );
    request
}
