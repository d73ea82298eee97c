//! `drydock db migrate`: apply the PostgreSQL store's pending schema
//! migrations and exit — the original chart's db-sync job, run before new
//! servers roll out (deploy/Dockerfile: `docker run IMAGE db migrate`).
//! `drydock serve` applies the same migrations when it starts, under the
//! same advisory lock, so running both at once is safe. The store comes
//! from `--store` / `DRYDOCK_STORE`, else from `drydock serve`'s TOML file
//! (`--config`, key `store`), else from the original's `drydock.conf`
//! (`--config-file`, `[database] database_connect_string`). Exits 0 when the
//! schema is current, 1 when the database cannot be migrated (unreachable,
//! refused, at a newer schema than this Drydock) and 2 for a usage mistake.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use clap::{Args, Subcommand};
use drydock_core::store::postgres::{PostgresOptions, PostgresStore};

use super::output::Style;

/// `drydock db …`
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply pending PostgreSQL schema migrations and exit (the db-sync job).
    Migrate(MigrateArgs),
}

/// Arguments of `drydock db migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The store as `drydock serve --store` takes it: a `postgresql://` URL
    /// (prefer the environment variable: the URL may hold a password).
    #[arg(long, env = "DRYDOCK_STORE", hide_env_values = true)]
    pub store: Option<String>,
    /// `drydock serve`'s TOML configuration file: its `store` is used when
    /// no --store is given.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The original's oslo.config file (`/etc/drydock/drydock.conf`): its
    /// `[database] database_connect_string`, when neither --store nor a
    /// `store` in --config is given.
    #[arg(long = "config-file", value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// How long to wait for the database to accept a connection.
    #[arg(long, default_value = "30s", value_parser = super::serve::parse_duration)]
    pub connect_timeout: Duration,
}

/// A usage mistake (exit 2) or a database that cannot be migrated (exit 1).
#[derive(Debug)]
enum Failure {
    Usage(String),
    Database(String),
}

/// The store URL from the arguments, in their order of precedence.
fn store_url(args: &MigrateArgs) -> Result<String, Failure> {
    if let Some(store) = &args.store {
        return Ok(store.clone());
    }
    if let Some(path) = &args.config
        && let Some(store) = toml_store(path).map_err(Failure::Usage)?
    {
        return Ok(store);
    }
    if let Some(path) = &args.config_file {
        let mapped = super::oslo::read(path).map_err(Failure::Usage)?;
        if let Some((_, store)) = mapped.options.into_iter().find(|(key, _)| key == "store") {
            return Ok(store);
        }
    }
    Err(Failure::Usage(
        "no store given: use --store postgresql://… (or DRYDOCK_STORE), a --config file with `store`, or a --config-file with [database] database_connect_string".into(),
    ))
}

fn toml_store(path: &Path) -> Result<Option<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|error| format!("cannot read the configuration {}: {error}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|error: toml::de::Error| format!("the configuration {} is not valid TOML: {}", path.display(), error.message()))?;
    match table.get("store") {
        None => Ok(None),
        Some(toml::Value::String(store)) => Ok(Some(store.clone())),
        Some(_) => Err(format!("the configuration {}: store has a value of the wrong type", path.display())),
    }
}

/// `host:port/database` of a PostgreSQL URL: what messages name (never the
/// user's password).
fn target(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(name)) => name.clone(),
        Some(tokio_postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}/{}", config.get_dbname().unwrap_or("postgres"))
}

/// The newest migration applied to the database (`None`: none yet).
async fn schema_version(config: &tokio_postgres::Config, target: &str) -> Result<Option<i32>, Failure> {
    let unreachable = |error: tokio_postgres::Error| match error.as_db_error() {
        // The server's own words ("password authentication failed for user …").
        Some(db) => Failure::Database(format!("PostgreSQL at {target}: {}", db.message())),
        None => Failure::Database(format!("PostgreSQL at {target}: {error}")),
    };
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.map_err(unreachable)?;
    let connection = tokio::spawn(connection);
    let version = async {
        // Two statements: a missing table fails the whole statement naming it.
        let exists: bool = client.query_one("SELECT to_regclass('drydock_schema_migrations') IS NOT NULL", &[]).await?.try_get(0)?;
        if !exists {
            return Ok(None);
        }
        client.query_one("SELECT max(version) FROM drydock_schema_migrations", &[]).await?.try_get(0)
    }
    .await;
    drop(client);
    let _ = connection.await;
    version.map_err(unreachable)
}

/// Migrate the store `url`; the line to print on success.
async fn migrate(url: &str, connect_timeout: Duration) -> Result<String, Failure> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        let kind = if url == "memory" || url.starts_with("redb:") { "an embedded store" } else { "not a PostgreSQL URL" };
        return Err(Failure::Usage(format!(
            "the store is {kind}: only PostgreSQL stores are migrated by this command (drydock serve upgrades a redb file when it opens it)"
        )));
    }
    let mut config = tokio_postgres::Config::from_str(url).map_err(|error| Failure::Usage(format!("invalid PostgreSQL URL: {error}")))?;
    config.connect_timeout(connect_timeout);
    let target = target(&config);
    let before = schema_version(&config, &target).await?;
    let options = PostgresOptions { connect_timeout, max_connections: 1 };
    let store = PostgresStore::connect(url, options).await.map_err(|error| Failure::Database(error.to_string()))?;
    drop(store);
    let after = schema_version(&config, &target).await?;
    let version = |version: Option<i32>| version.unwrap_or(0);
    Ok(if before == after {
        format!("PostgreSQL at {target}: schema version {} is current, nothing to apply", version(after))
    } else {
        format!("PostgreSQL at {target}: migrated from schema version {} to {}", version(before), version(after))
    })
}

/// Run `drydock db`.
pub async fn run(command: DbCommand) -> ExitCode {
    let DbCommand::Migrate(args) = command;
    let result = match store_url(&args) {
        Ok(url) => migrate(&url, args.connect_timeout).await,
        Err(failure) => Err(failure),
    };
    let stderr = Style::stderr();
    match result {
        Ok(line) => {
            outln!("{}", Style::stdout().success(&line));
            ExitCode::SUCCESS
        }
        Err(Failure::Usage(message)) => {
            eprintln!("{} {message}", stderr.error("error:"));
            ExitCode::from(2)
        }
        Err(Failure::Database(message)) => {
            eprintln!("{} {message}", stderr.error("error:"));
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(store: Option<&str>, config: Option<PathBuf>, config_file: Option<PathBuf>) -> MigrateArgs {
        MigrateArgs { store: store.map(String::from), config, config_file, connect_timeout: Duration::from_secs(1) }
    }

    #[test]
    fn the_store_comes_from_the_flag_then_the_toml_file_then_drydock_conf() {
        let dir = tempfile::tempdir().expect("tempdir");
        let toml = dir.path().join("drydock.toml");
        std::fs::write(&toml, "store = \"postgresql://a@toml/db\"\n").expect("toml");
        let bare = dir.path().join("bare.toml");
        std::fs::write(&bare, "listen = \"127.0.0.1:9000\"\n").expect("bare");
        let conf = dir.path().join("drydock.conf");
        std::fs::write(&conf, "[database]\ndatabase_connect_string = postgresql+psycopg2://a:pw@conf:5432/db\n").expect("conf");
        let url = |args: MigrateArgs| store_url(&args).map_err(|failure| format!("{failure:?}"));
        assert_eq!(url(args(Some("postgresql://flag/db"), Some(toml.clone()), Some(conf.clone()))), Ok("postgresql://flag/db".into()));
        assert_eq!(url(args(None, Some(toml), Some(conf.clone()))), Ok("postgresql://a@toml/db".into()));
        assert_eq!(url(args(None, Some(bare.clone()), Some(conf))), Ok("postgresql://a:pw@conf:5432/db".into()));
        assert!(matches!(store_url(&args(None, Some(bare), None)), Err(Failure::Usage(_))));
    }

    #[test]
    fn the_target_never_names_the_password() {
        let config = tokio_postgres::Config::from_str("postgresql://drydock:s3cret@db.example:6543/site").expect("url");
        assert_eq!(target(&config), "db.example:6543/site");
    }
}
