//! One `latchkey serve` process per scenario, as an operator runs it: the release
//! binary, configured through `LATCHKEY_*` variables, on a fresh SQLite file or a fresh
//! Postgres database. A fresh process per scenario makes its peak memory that
//! scenario's alone, and measures start-up every time.

use crate::proc_stat::{ProcStat, ticks_to_duration};
use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use latchkey_core::credentials::{digest_credential, hash_credential};
use latchkey_core::secret::{OsRandomness, new_token_value};
use latchkey_tests::Backend;
use latchkey_tests::app::TestDatabase;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// The admin credential the bench servers accept.
pub const ADMIN: &str = "bench-admin-credential";
/// The frontend credential the bench servers accept.
pub const FRONTEND: &str = "bench-frontend-credential";

/// The credentials' hashes, made once per run: `sha256:` digests as `latchkey
/// credential generate` prints them, or argon2 hashes as for credentials a person
/// chose (`--argon2-credentials`).
pub struct Hashes {
    admin: String,
    frontend: String,
    service_credential: String,
    service: String,
}

impl Hashes {
    /// Hashes [`ADMIN`] and [`FRONTEND`], and makes a service credential the way
    /// `latchkey credential generate` does (256 random bits) and hashes it: as
    /// digests, or with argon2 when `argon2` is set.
    pub fn new(argon2: bool) -> anyhow::Result<Hashes> {
        let service_credential = new_token_value(&OsRandomness);
        let hash = |credential: &str| -> anyhow::Result<String> {
            if argon2 {
                hash_credential(credential).map_err(anyhow::Error::msg)
            } else {
                Ok(digest_credential(credential))
            }
        };
        Ok(Hashes {
            admin: hash(ADMIN)?,
            frontend: hash(FRONTEND)?,
            service: hash(&service_credential)?,
            service_credential,
        })
    }

    /// The service credential, for the scenarios that require one on
    /// `ValidateAccess` (see [`Hashes::requiring_service_credential`]).
    pub fn service_credential(&self) -> &str {
        &self.service_credential
    }

    /// The setting that makes `ValidateAccess` (and introspection by a resource
    /// server) require the service credential. Off by default: the other scenarios
    /// measure validation without it.
    pub fn requiring_service_credential(&self) -> (&'static str, String) {
        ("CREDENTIALS__SERVICE_HASH", self.service.clone())
    }
}

/// A running server.
pub struct Server {
    child: Child,
    /// `None` for a replica: the first process owns the database.
    database: Option<TestDatabase>,
    /// The database the process serves from.
    pub database_url: String,
    encryption_key: String,
    /// The gRPC port.
    pub grpc_port: u16,
    /// The HTTP port (the OAuth endpoints and the web pages).
    pub http_port: u16,
    /// From spawning the process to the health service answering `SERVING`, on a
    /// fresh database (migrations included).
    pub startup: Duration,
    /// Resident memory once `SERVING`, before any load, in KiB.
    pub idle_rss_kib: u64,
    log: PathBuf,
}

fn free_port() -> anyhow::Result<u16> {
    let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(probe.local_addr()?.port())
}

impl Server {
    /// Starts `binary` on `backend` with `settings` (`("OAUTH1__...", "value")`) on
    /// top of the bench defaults, and waits until it is `SERVING`.
    pub async fn start(
        binary: &Path,
        backend: Backend,
        hashes: &Hashes,
        folder: &Path,
        settings: &[(&str, String)],
    ) -> anyhow::Result<Server> {
        let (database, url) = TestDatabase::create(backend)
            .await
            .context("Postgres is unreachable: the Postgres scenarios need it")?;
        let key: [u8; 32] = rand::random();
        Server::spawn(
            binary,
            hashes,
            folder,
            settings,
            Some(database),
            url,
            STANDARD.encode(key),
        )
        .await
    }

    /// Starts a second process on this one's database and encryption key, as another
    /// replica of one deployment (it does not migrate; this one did).
    pub async fn start_replica(
        &self,
        binary: &Path,
        hashes: &Hashes,
        folder: &Path,
    ) -> anyhow::Result<Server> {
        Server::spawn(
            binary,
            hashes,
            folder,
            &[("DATABASE__MIGRATE_ON_START", "false".into())],
            None,
            self.database_url.clone(),
            self.encryption_key.clone(),
        )
        .await
    }

    async fn spawn(
        binary: &Path,
        hashes: &Hashes,
        folder: &Path,
        settings: &[(&str, String)],
        database: Option<TestDatabase>,
        url: String,
        encryption_key: String,
    ) -> anyhow::Result<Server> {
        std::fs::create_dir_all(folder)?;
        let (grpc_port, http_port) = (free_port()?, free_port()?);
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .current_dir(folder)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("LATCHKEY_GRPC__LISTEN", format!("127.0.0.1:{grpc_port}"))
            .env("LATCHKEY_HTTP__LISTEN", format!("127.0.0.1:{http_port}"))
            .env("LATCHKEY_METRICS__LISTEN", "127.0.0.1:0")
            .env(
                "LATCHKEY_PUBLIC_BASE_URL",
                format!("http://127.0.0.1:{http_port}"),
            )
            .env("LATCHKEY_DATABASE__URL", &url)
            .env("LATCHKEY_DATABASE__MIGRATE_ON_START", "true")
            .env("LATCHKEY_ENCRYPTION__KEY", &encryption_key)
            .env("LATCHKEY_CREDENTIALS__ADMIN_HASH", &hashes.admin)
            .env("LATCHKEY_CREDENTIALS__FRONTEND_HASH", &hashes.frontend)
            .env("LATCHKEY_LOG__FORMAT", "json")
            // Per-request logging is what production runs with.
            .env("RUST_LOG", "info");
        for (name, value) in settings {
            command.env(format!("LATCHKEY_{name}"), value);
        }
        let log = folder.join("latchkey.log");
        let output = std::fs::File::create(&log)?;
        command
            .stdout(Stdio::from(output.try_clone()?))
            .stderr(Stdio::from(output));
        let started = Instant::now();
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut server = Server {
            child,
            database,
            database_url: url,
            encryption_key,
            grpc_port,
            http_port,
            startup: Duration::ZERO,
            idle_rss_kib: 0,
            log,
        };
        server.wait_until_serving(started).await?;
        server.startup = started.elapsed();
        server.idle_rss_kib = server.memory()?.rss_kib;
        Ok(server)
    }

    async fn wait_until_serving(&mut self, started: Instant) -> anyhow::Result<()> {
        let endpoint = format!("http://127.0.0.1:{}", self.grpc_port);
        while started.elapsed() < Duration::from_secs(30) {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "latchkey exited with {status} before serving; its log:\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if let Ok(channel) = Channel::from_shared(endpoint.clone())?.connect().await {
                let answer = HealthClient::new(channel)
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await;
                if answer.is_ok_and(|a| a.get_ref().status == ServingStatus::Serving as i32) {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        bail!("latchkey was not SERVING within 30 s")
    }

    /// A new connection to the gRPC port.
    pub async fn connect(&self) -> anyhow::Result<Channel> {
        Ok(
            Channel::from_shared(format!("http://127.0.0.1:{}", self.grpc_port))?
                .connect()
                .await?,
        )
    }

    /// The server's own Postgres database, as `(admin URL, database name)`: what a
    /// scenario needs to take the database away. `None` on SQLite and for a replica.
    pub fn postgres_database(&self) -> Option<(&str, &str)> {
        match &self.database {
            Some(TestDatabase::Postgres { admin_url, name }) => Some((admin_url, name)),
            _ => None,
        }
    }

    /// The process's resident and peak resident memory, from `/proc`.
    pub fn memory(&self) -> anyhow::Result<Memory> {
        self.memory_probe().read()
    }

    /// What reads the process's memory, to be moved into a sampling task.
    pub fn memory_probe(&self) -> MemoryProbe {
        MemoryProbe(self.child.id())
    }

    /// The CPU time the process has used, user and system, from `/proc` (in the
    /// kernel's 100 Hz ticks).
    pub fn cpu_time(&self) -> anyhow::Result<Duration> {
        let stat = ProcStat::read(self.child.id()).context("the server's /proc stat line")?;
        Ok(ticks_to_duration(stat.own_ticks()))
    }

    /// Stops the process (SIGTERM, then SIGKILL after 10 s) and drops its database.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                self.child.kill()?;
                self.child.wait()?;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if let Some(database) = self.database.take() {
            database.drop_it().await;
        }
        Ok(())
    }
}

/// Memory figures in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    /// Resident now.
    pub rss_kib: u64,
    /// The most ever resident.
    pub peak_rss_kib: u64,
}

/// Reads one process's memory figures; cheap enough to sample every few milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct MemoryProbe(u32);

impl MemoryProbe {
    /// Resident and peak resident memory now, from `/proc/<pid>/status`.
    pub fn read(self) -> anyhow::Result<Memory> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.0))?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|kib| kib.parse().ok())
                .unwrap_or(0)
        };
        Ok(Memory {
            rss_kib: field("VmRSS:"),
            peak_rss_kib: field("VmHWM:"),
        })
    }
}
