//! The backends a benchmark runs on and the throw-away databases it makes. Shared by the
//! benches through `#[path]`; each uses the part it needs.
#![allow(dead_code)]

use std::time::Duration;

use anyhow::Context;
use clap::ValueEnum;
use sqlx::Connection;
use uuid::Uuid;

/// `--backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendChoice {
    Both,
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// A fresh database for one run: a SQLite file in a temp dir, or a PostgreSQL database
/// `hwl_bench_<random>` made through the admin URL and dropped by [`BenchDb::drop_db`].
pub struct BenchDb {
    pub url: String,
    pub kind: DbKind,
}

pub enum DbKind {
    Sqlite { dir: tempfile::TempDir },
    Postgres { admin: String, name: String },
}

pub fn small_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

impl BenchDb {
    pub fn create(backend: Backend, admin: &str) -> anyhow::Result<BenchDb> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir()?;
                let url = format!("sqlite://{}", dir.path().join("bench.db").display());
                Ok(BenchDb {
                    url,
                    kind: DbKind::Sqlite { dir },
                })
            }
            Backend::Postgres => {
                let name = format!("hwl_bench_{}", &Uuid::new_v4().simple().to_string()[..12]);
                small_runtime().block_on(async {
                    let mut conn = tokio::time::timeout(
                        Duration::from_secs(10),
                        sqlx::PgConnection::connect(admin),
                    )
                    .await
                    .context("timed out")??;
                    sqlx::query(&format!("create database {name}"))
                        .execute(&mut conn)
                        .await?;
                    conn.close().await?;
                    anyhow::Ok(())
                })?;
                let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin);
                Ok(BenchDb {
                    url: format!("{base}/{name}"),
                    kind: DbKind::Postgres {
                        admin: admin.to_owned(),
                        name,
                    },
                })
            }
        }
    }

    pub fn drop_db(self) {
        if let DbKind::Postgres { admin, name } = &self.kind {
            let dropped = small_runtime().block_on(async {
                let mut conn = sqlx::PgConnection::connect(admin).await?;
                sqlx::query(&format!("drop database if exists {name} with (force)"))
                    .execute(&mut conn)
                    .await?;
                conn.close().await?;
                anyhow::Ok(())
            });
            match dropped {
                Ok(()) => println!("dropped database {name}"),
                Err(e) => println!("!!!!! could not drop database {name}: {e:#}"),
            }
        }
    }
}
