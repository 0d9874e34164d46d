//! `hwledger backup`: a consistent copy of a ledger's database, taken while the service runs.
//!
//! SQLite: `VACUUM INTO` a new file, one read transaction, so the copy is the database as of
//! one commit (a complete ledger, compacted). PostgreSQL: `pg_dump --format=custom`, which
//! reads in one repeatable-read snapshot. Either way the copy is written beside the target as
//! `FILE.partial` and renamed only when complete, so a `FILE` that exists is whole. The copy
//! is then opened and its head printed, to be checked with `hwledger verify --db`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;

use anyhow::{bail, Context};
use clap::Args;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::store::{DbUrl, Store};

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The database to copy: sqlite://FILE or postgres://…
    #[arg(long, env = "HWLEDGER_DB", hide_env_values = true)]
    pub db: String,
    /// The file to write (SQLite: a database file; PostgreSQL: a pg_dump archive for
    /// pg_restore). An existing file is never overwritten.
    #[arg(long)]
    pub out: PathBuf,
}

pub async fn run(args: BackupArgs) -> anyhow::Result<ExitCode> {
    let db = DbUrl::new(args.db);
    if args.out.exists() {
        bail!(
            "{} exists; a backup never overwrites a file",
            args.out.display()
        );
    }
    let partial = partial_path(&args.out);
    let _ = std::fs::remove_file(&partial);
    let copied = if db.is_postgres() {
        pg_dump(&db, &partial).await
    } else {
        vacuum_into(&db, &partial).await
    };
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::File::open(&partial)?.sync_all()?;
    std::fs::rename(&partial, &args.out).with_context(|| {
        format!(
            "cannot rename {} to {}",
            partial.display(),
            args.out.display()
        )
    })?;
    if db.is_postgres() {
        println!(
            "wrote {} ({} bytes): the database as pg_dump's snapshot saw it; restore it into a new, empty database with pg_restore, then check it with hwledger verify --db",
            args.out.display(),
            std::fs::metadata(&args.out)?.len()
        );
    } else {
        let copy = Store::connect(&DbUrl::new(format!("sqlite://{}", args.out.display())))
            .await
            .context("cannot open the copy")?;
        let head = copy.head().await?;
        copy.close().await;
        println!(
            "wrote {} ({} bytes): {} entries, head {}, root {}",
            args.out.display(),
            std::fs::metadata(&args.out)?.len(),
            head.size,
            hex::encode(head.head),
            hex::encode(head.root)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn partial_path(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// `VACUUM INTO`: one read transaction of the live database, written as a new database file.
/// Readers and the writer of a running service (WAL mode) go on meanwhile.
async fn vacuum_into(db: &DbUrl, out: &Path) -> anyhow::Result<()> {
    let source = db.expose();
    let file = source
        .strip_prefix("sqlite://")
        .or_else(|| source.strip_prefix("sqlite:"))
        .unwrap_or(source);
    let file = file.split('?').next().unwrap_or(file);
    if !Path::new(file).exists() {
        bail!("{file} does not exist");
    }
    let mut conn = SqliteConnectOptions::from_str(source)?
        .read_only(true)
        .busy_timeout(std::time::Duration::from_secs(30))
        .connect()
        .await
        .with_context(|| format!("cannot open {db}"))?;
    let target = out
        .to_str()
        .context("the backup's path must be valid UTF-8")?;
    sqlx::query("VACUUM INTO ?")
        .bind(target)
        .execute(&mut conn)
        .await
        .with_context(|| format!("cannot copy {db} into {}", out.display()))?;
    conn.close().await?;
    Ok(())
}

/// `pg_dump --format=custom`, with the password (if the URL has one) passed in the
/// environment rather than on the command line, where other users could read it.
async fn pg_dump(db: &DbUrl, out: &Path) -> anyhow::Result<()> {
    let (url, password) = split_password(db.expose());
    let mut cmd = tokio::process::Command::new("pg_dump");
    cmd.arg("--format=custom")
        .arg("--no-owner")
        .arg("--file")
        .arg(out)
        .arg("--dbname")
        .arg(&url);
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    let status = cmd.status().await.map_err(|e| {
        anyhow::anyhow!(
            "cannot run pg_dump ({e}); install the PostgreSQL client tools of the server's version"
        )
    })?;
    if !status.success() {
        bail!("pg_dump failed ({status}); its message is above");
    }
    Ok(())
}

/// The URL without its password, and the password, percent-decoded.
fn split_password(url: &str) -> (String, Option<String>) {
    let Some(scheme_end) = url.find("://") else {
        return (url.to_owned(), None);
    };
    let rest = &url[scheme_end + 3..];
    let Some(at) = rest.find('@') else {
        return (url.to_owned(), None);
    };
    let userinfo = &rest[..at];
    let Some(colon) = userinfo.find(':') else {
        return (url.to_owned(), None);
    };
    let password = percent_decode(&userinfo[colon + 1..]);
    let stripped = format!(
        "{}{}{}",
        &url[..scheme_end + 3],
        &userinfo[..colon],
        &rest[at..]
    );
    (stripped, Some(password))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_leaves_the_url() {
        assert_eq!(
            split_password("postgres://hw:s%40cret@db.internal:5432/hwledger"),
            (
                "postgres://hw@db.internal:5432/hwledger".to_owned(),
                Some("s@cret".to_owned())
            )
        );
        assert_eq!(
            split_password("postgres://root@127.0.0.1/test"),
            ("postgres://root@127.0.0.1/test".to_owned(), None)
        );
        assert_eq!(percent_decode("a%2"), "a%2");
    }
}
