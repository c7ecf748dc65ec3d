//! Which engine holds a node's data, named by `--database` (or `EXPEDIENTE_DATABASE_URL`):
//! the only place that names the concrete store types (issue 14). Everything else receives
//! trait objects (`store::SharedStore`, `Arc<dyn SyncStore>`), so a command works the same on
//! a clinic's SQLite file and on the hub's PostgreSQL.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Args;

/// A Citus hub's workers (`expediente cluster`, `bench-rebalance`): only a PostgreSQL store
/// has them, so the commands reach them through here, where the concrete stores are named.
pub(crate) use store_postgres::cluster as citus;

/// The `--database` option every data command takes.
#[derive(Args, Clone, Debug, Default)]
pub struct DatabaseArg {
    /// Base de datos: `postgres://usuario@servidor:puerto/base` (nodo central) o un directorio
    /// SQLite (`sqlite:DIR`); por omisión, el SQLite de --data / Database: `postgres://…`
    /// (national hub) or a SQLite directory (`sqlite:DIR`); default: the SQLite file in --data
    #[arg(long, env = "EXPEDIENTE_DATABASE_URL", hide_env_values = true)]
    pub database: Option<String>,
}

/// `expediente migrate`.
#[derive(Args)]
pub struct MigrateArgs {
    /// Directorio de datos del nodo / Node data directory
    #[arg(long, default_value = "./expediente-data", env = "EXPEDIENTE_DATA")]
    pub data: PathBuf,
    #[command(flatten)]
    pub database: DatabaseArg,
}

pub fn run_migrate(args: &MigrateArgs) -> anyhow::Result<std::process::ExitCode> {
    let location = Location::parse(&args.data, args.database.database.as_deref())?;
    println!("{}", Database::migrate(&location)?);
    Ok(std::process::ExitCode::SUCCESS)
}

/// Where a node's data lives, parsed from `--database`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Location {
    /// The SQLite file in this directory (a clinic node, or a small hub).
    Sqlite(PathBuf),
    /// A PostgreSQL database (the national hub), as a `postgres://` URL.
    Postgres(String),
}

impl Location {
    /// `database` as given, or the SQLite file in the node's data directory.
    pub(crate) fn parse(data: &Path, database: Option<&str>) -> anyhow::Result<Location> {
        let Some(database) = database.map(str::trim).filter(|d| !d.is_empty()) else {
            return Ok(Location::Sqlite(data.to_path_buf()));
        };
        if database.starts_with("postgres://") || database.starts_with("postgresql://") {
            return Ok(Location::Postgres(database.to_string()));
        }
        if let Some(dir) = database.strip_prefix("sqlite:") {
            let dir = dir.strip_prefix("//").unwrap_or(dir);
            if dir.is_empty() {
                bail!("--database sqlite: necesita un directorio / needs a directory");
            }
            return Ok(Location::Sqlite(PathBuf::from(dir)));
        }
        if let Some((scheme, _)) = database.split_once("://") {
            bail!(
                "--database: motor desconocido «{scheme}»; use postgres://… o un directorio SQLite / unknown engine «{scheme}»; use postgres://… or a SQLite directory"
            );
        }
        Ok(Location::Sqlite(PathBuf::from(database)))
    }

    /// For logs and messages: never the password a URL may carry.
    pub(crate) fn display(&self) -> String {
        match self {
            Location::Sqlite(dir) => format!("SQLite {}", dir.display()),
            Location::Postgres(url) => format!("PostgreSQL {}", redact(url)),
        }
    }
}

/// Whether `data` already holds a SQLite node (the demo prepares a new one otherwise).
pub(crate) fn sqlite_file_exists(data: &Path) -> bool {
    data.join(store_sqlite::DB_FILE_NAME).exists()
}

/// Places a SQLite backup as the database of a new node in `data` (checked first; never over
/// an existing node).
pub(crate) fn restore_sqlite(from: &Path, data: &Path) -> anyhow::Result<()> {
    store_sqlite::restore_into(from, data)
        .map_err(|err| anyhow::anyhow!("no se pudo restaurar / restore failed: {err}"))
}

/// A `postgres://user:password@host/db` URL with the password replaced.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((credentials, host)) = rest.rsplit_once('@') else {
        return url.to_string();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// The concrete store behind a node's trait objects: what only `cli` may know.
enum Engine {
    Sqlite(Arc<store_sqlite::SqliteStore>),
    /// Held through the trait objects too; kept here for its size on disk.
    Postgres(Arc<store_postgres::PgStore>),
}

/// A node's opened store, as the rest of the program sees it.
pub(crate) struct Database {
    pub store: store::SharedStore,
    pub sync: Arc<dyn store::sync::SyncStore>,
    engine: Engine,
    location: Location,
}

impl Database {
    /// Opens (creating and migrating if needed) the store `location` names. `bulk` gives
    /// SQLite's writer a larger page cache, for imports.
    pub(crate) fn open(location: &Location, bulk: bool) -> anyhow::Result<Database> {
        match location {
            Location::Sqlite(dir) => {
                let options = if bulk {
                    store_sqlite::OpenOptions::bulk()
                } else {
                    store_sqlite::OpenOptions::default()
                };
                let sqlite = store_sqlite::SqliteStore::open_with(dir, &options)
                    .with_context(|| format!("cannot open the store in {}", dir.display()))?;
                Ok(Database {
                    store: sqlite.clone(),
                    sync: sqlite.clone(),
                    engine: Engine::Sqlite(sqlite),
                    location: location.clone(),
                })
            }
            Location::Postgres(url) => {
                // Connecting migrates the schema (refusing one newer than this build).
                let postgres = store_postgres::PgStore::connect(url).map_err(|err| {
                    anyhow::anyhow!(
                        "no se pudo abrir la base de datos {} / cannot open the database: {err}",
                        redact(url)
                    )
                })?;
                // Safe from any thread: the store steps off the async workers itself.
                Ok(Database {
                    store: postgres.clone(),
                    sync: postgres.clone(),
                    engine: Engine::Postgres(postgres),
                    location: location.clone(),
                })
            }
        }
    }

    /// Brings the schema of the store `location` names up to date, refusing a schema newer than
    /// this program; returns what was done, for the operator.
    pub(crate) fn migrate(location: &Location) -> anyhow::Result<String> {
        match location {
            // SQLite migrates every time it opens.
            Location::Sqlite(_) => {
                let db = Database::open(location, false)?;
                db.close();
                Ok(format!(
                    "{}: esquema al día / schema up to date",
                    location.display()
                ))
            }
            Location::Postgres(url) => {
                let version = store_postgres::migrate(url).map_err(|err| {
                    anyhow::anyhow!("no se pudo migrar {} / cannot migrate: {err}", redact(url))
                })?;
                Ok(format!(
                    "{}: esquema en la versión {version} / schema at version {version}",
                    location.display()
                ))
            }
        }
    }

    /// A reader of the database's size on disk, for `/metrics`: the SQLite file and its WAL.
    /// On PostgreSQL, the database's tables and indexes (`PgStore::database_bytes`).
    pub(crate) fn size_reader(&self) -> Option<rest::observe::GaugeFn> {
        if let Engine::Postgres(postgres) = &self.engine {
            let postgres = postgres.clone();
            return Some(Box::new(move || {
                #[allow(clippy::cast_precision_loss)]
                postgres.database_bytes().ok().map(|bytes| bytes as f64)
            }));
        }
        let Location::Sqlite(dir) = &self.location else {
            return None;
        };
        let db = dir.join(store_sqlite::DB_FILE_NAME);
        let wal = dir.join(format!("{}-wal", store_sqlite::DB_FILE_NAME));
        Some(Box::new(move || {
            let size = |path: &Path| std::fs::metadata(path).map(|m| m.len()).ok();
            let total = size(&db)? + size(&wal).unwrap_or(0);
            // Exact up to 2^53 bytes (8 PiB): far past any node's file.
            #[allow(clippy::cast_precision_loss)]
            Some(total as f64)
        }))
    }

    /// An online, consistent copy of the node's database in `dest` (SQLite); on PostgreSQL,
    /// the operator's own tools are the way, and the message says which.
    pub(crate) fn backup_to(&self, dest: &Path) -> anyhow::Result<u64> {
        match &self.engine {
            Engine::Sqlite(sqlite) => sqlite
                .backup_to(dest)
                .map_err(|err| anyhow::anyhow!("no se pudo respaldar / backup failed: {err}")),
            Engine::Postgres(_) => anyhow::bail!(
                "en PostgreSQL respalde con pg_dump -Fc (o pg_basebackup y archivo WAL para recuperación a un punto en el tiempo) / on PostgreSQL back up with pg_dump -Fc (or pg_basebackup plus WAL archiving for point-in-time recovery)"
            ),
        }
    }

    pub(crate) fn location(&self) -> &Location {
        &self.location
    }

    /// Finishes queued writes and releases the store (SQLite's writer thread).
    pub(crate) fn close(&self) {
        match &self.engine {
            Engine::Sqlite(sqlite) => sqlite.close(),
            // Every write is committed when `write` returns; connections close when dropped.
            Engine::Postgres(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_its_engine() {
        let data = Path::new("/datos");
        assert_eq!(
            Location::parse(data, None).ok(),
            Some(Location::Sqlite(data.into()))
        );
        assert_eq!(
            Location::parse(data, Some("  ")).ok(),
            Some(Location::Sqlite(data.into()))
        );
        assert_eq!(
            Location::parse(data, Some("postgres://hub@db:5432/expediente")).ok(),
            Some(Location::Postgres(
                "postgres://hub@db:5432/expediente".into()
            ))
        );
        assert_eq!(
            Location::parse(data, Some("postgresql://db/x")).ok(),
            Some(Location::Postgres("postgresql://db/x".into()))
        );
        assert_eq!(
            Location::parse(data, Some("sqlite:/otra")).ok(),
            Some(Location::Sqlite("/otra".into()))
        );
        assert_eq!(
            Location::parse(data, Some("sqlite:///otra")).ok(),
            Some(Location::Sqlite("/otra".into()))
        );
        assert_eq!(
            Location::parse(data, Some("./clinica")).ok(),
            Some(Location::Sqlite("./clinica".into()))
        );
        let unknown = Location::parse(data, Some("mysql://db/x"));
        assert!(unknown.is_err_and(|e| e.to_string().contains("mysql")));
    }

    #[test]
    fn passwords_never_reach_messages() {
        let location = Location::Postgres("postgres://hub:s3creto@db:5432/expediente".into());
        assert_eq!(
            location.display(),
            "PostgreSQL postgres://hub:***@db:5432/expediente"
        );
        assert_eq!(redact("postgres://hub@db/x"), "postgres://hub@db/x");
    }
}
