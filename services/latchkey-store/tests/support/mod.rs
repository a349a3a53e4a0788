//! Per-test databases, raw counts, and (in [`records`]) record builders.

use latchkey_core::records::AuditAction;
pub use latchkey_store::SeaStore;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement,
};
use std::path::PathBuf;
use std::sync::Arc;
use uuid::Uuid;

mod records;
pub use records::*;

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const POOL_SIZE: u32 = 8;

/// A database that exists for one test and is removed when the test ends, pass or
/// fail.
pub struct TestDb {
    pub store: Arc<SeaStore>,
    /// Where the database is, for a second connection pool (another "replica").
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(PathBuf),
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    /// A migrated SQLite database in a fresh temporary file.
    pub async fn sqlite() -> TestDb {
        let path = std::env::temp_dir().join(format!("lk-{}.db", Uuid::new_v4().simple()));
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let store = SeaStore::connect(&url, POOL_SIZE).await.unwrap();
        store.migrate().await.unwrap();
        TestDb {
            store: Arc::new(store),
            url,
            cleanup: Cleanup::Sqlite(path),
        }
    }

    /// A migrated Postgres database of its own, or `None` (after a loud note) when
    /// Postgres is unreachable outside CI.
    pub async fn postgres() -> Option<TestDb> {
        let admin_url = std::env::var("LATCHKEY_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
        let admin = match admin_connection(&admin_url).await {
            Ok(admin) => admin,
            Err(err) => {
                let in_ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
                if in_ci {
                    panic!("CI=true and PostgreSQL at {admin_url} is unreachable: {err}");
                }
                eprintln!(
                    "\n!!!!! SKIPPED: PostgreSQL at {admin_url} is unreachable ({err}); \
                     set LATCHKEY_TEST_POSTGRES_URL to run the Postgres half !!!!!\n"
                );
                return None;
            }
        };
        let name = format!("lk_{}", Uuid::new_v4().simple());
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap();
        let cleanup = Cleanup::Postgres {
            admin_url: admin_url.clone(),
            name: name.clone(),
        };
        let url = with_database(&admin_url, &name);
        let store = SeaStore::connect(&url, POOL_SIZE).await.unwrap();
        let db = TestDb {
            store: Arc::new(store),
            url,
            cleanup,
        };
        db.store.migrate().await.unwrap();
        Some(db)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Sqlite(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
            }
            Cleanup::Postgres { admin_url, name } => {
                // Drop cannot await; a short-lived runtime on its own thread can.
                let (admin_url, database) = (admin_url.clone(), name.clone());
                let dropped = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .ok()?;
                    runtime.block_on(async {
                        let admin = admin_connection(&admin_url).await.ok()?;
                        let sql = format!("DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)");
                        admin.execute_unprepared(&sql).await.ok()
                    })
                });
                if !matches!(dropped.join(), Ok(Some(_))) {
                    eprintln!("note: could not drop test database {name}");
                }
            }
        }
    }
}

/// One connection to the server's admin database. It gives up after 3 s, not the
/// store's 10 s, so that a machine without Postgres skips quickly.
async fn admin_connection(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_secs(3))
        .connect_timeout(std::time::Duration::from_secs(3))
        .sqlx_logging(false);
    Database::connect(options).await
}

/// The admin URL with its database name replaced.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let (server, _) = base.rsplit_once('/').unwrap();
    format!("{server}/{name}{query}")
}

/// Rows in a table, by a raw query.
pub async fn count_rows(store: &SeaStore, table: &str) -> i64 {
    raw_count(store, &format!("SELECT COUNT(*) AS n FROM {table}")).await
}

/// Whether the test's own schema has an index of this name.
pub async fn has_index(store: &SeaStore, name: &str) -> bool {
    catalog_count(store, ("pg_indexes", "indexname", "index"), name).await == 1
}

/// Whether the test's own schema has a table of this name.
pub async fn has_table(store: &SeaStore, name: &str) -> bool {
    catalog_count(store, ("pg_tables", "tablename", "table"), name).await == 1
}

/// Whether the test's own schema's `table` has a column of this name.
pub async fn has_column(store: &SeaStore, table: &str, column: &str) -> bool {
    let sql = if store.connection().get_database_backend() == DbBackend::Postgres {
        format!(
            "SELECT COUNT(*) AS n FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = '{table}' \
             AND column_name = '{column}'"
        )
    } else {
        format!("SELECT COUNT(*) AS n FROM pragma_table_info('{table}') WHERE name = '{column}'")
    };
    raw_count(store, &sql).await == 1
}

/// Catalog entries of one kind with this name: `(Postgres view, its name column,
/// SQLite's type)`.
async fn catalog_count(store: &SeaStore, kind: (&str, &str, &str), name: &str) -> i64 {
    let (view, column, sqlite_type) = kind;
    let sql = if store.connection().get_database_backend() == DbBackend::Postgres {
        format!(
            "SELECT COUNT(*) AS n FROM {view} \
             WHERE schemaname = current_schema() AND {column} = '{name}'"
        )
    } else {
        format!(
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = '{sqlite_type}' AND name = '{name}'"
        )
    };
    raw_count(store, &sql).await
}

/// Audit lines with this action, by a raw query.
pub async fn count_audit(store: &SeaStore, action: AuditAction) -> i64 {
    let sql = format!(
        "SELECT COUNT(*) AS n FROM audit_log WHERE action = '{}'",
        action.as_str()
    );
    raw_count(store, &sql).await
}

async fn raw_count(store: &SeaStore, sql: &str) -> i64 {
    let db = store.connection();
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}
