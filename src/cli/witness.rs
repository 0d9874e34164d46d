//! `hwledger witness`: the witness server of spec §5a, for a second authority to cosign the
//! ledger's checkpoints.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use ed25519_dalek::VerifyingKey;

use super::serve::{init_logs, shutdown_signal, LogFormat};
use crate::protocol::{checkpoint, keys};
use crate::store::DbUrl;
use crate::witness::{Witness, WitnessConfig};

#[derive(Debug, Args)]
pub struct WitnessArgs {
    /// The witness's own Ed25519 key (PKCS#8 PEM); created (mode 0600) when missing.
    #[arg(long)]
    pub key: PathBuf,
    /// The witness's key name, as the ledger's `ledger.witnesses_set` will name it: non-empty,
    /// without spaces or '+' (e.g. `witness.sthjt.js.gov.cn`).
    #[arg(long, value_parser = parse_name)]
    pub name: String,
    /// Database URL: sqlite://FILE (created when missing) or postgres://…, the witness's own.
    #[arg(
        long,
        default_value = "sqlite://witness.db",
        env = "HWLEDGER_WITNESS_DB",
        hide_env_values = true
    )]
    pub db: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    pub listen: String,
    /// A log to witness, as ORIGIN=VERIFIERKEY: its origin and the verifier key string of its
    /// checkpoints (`verifier_key` of the ledger's GET /v1/ledger), whose name is ORIGIN.
    /// Repeat for each log.
    #[arg(long = "log", value_name = "ORIGIN=VERIFIERKEY", required = true, value_parser = parse_log)]
    pub logs: Vec<WitnessedLog>,
    /// The log's format: `text` or `json` (one JSON object per line).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// One `--log`: an origin and the log's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessedLog {
    pub origin: String,
    pub key: VerifyingKey,
}

/// `--name`: a signed-note key name.
pub fn parse_name(s: &str) -> Result<String, String> {
    checkpoint::check_origin(s)
        .map(|()| s.to_owned())
        .map_err(|_| {
            format!("{s:?} is not a key name: it must be non-empty, without spaces or '+'")
        })
}

/// `--log ORIGIN=VERIFIERKEY`. The verifier key begins with its own name, which must be ORIGIN,
/// so the argument reads `ORIGIN=ORIGIN+…`: splitting that head in its middle finds an origin
/// that holds a `=` itself; otherwise the first `=` separates the two.
pub fn parse_log(s: &str) -> Result<WitnessedLog, String> {
    let head = s.split('+').next().unwrap_or_default();
    let middle = head.len() / 2;
    let (origin, vkey) = match (head.get(..middle), head.get(middle..)) {
        (Some(a), Some(b)) if head.len() % 2 == 1 && b.strip_prefix('=') == Some(a) => {
            (a, &s[middle + 1..])
        }
        _ => s
            .split_once('=')
            .ok_or_else(|| format!("{s:?}: expected ORIGIN=VERIFIERKEY"))?,
    };
    checkpoint::check_origin(origin).map_err(|_| {
        format!("{origin:?} is not an origin: it must be non-empty, without spaces or '+'")
    })?;
    let (name, _, key) = checkpoint::parse_verifier_key(vkey)
        .map_err(|e| format!("the verifier key of {origin}: {e}"))?;
    if name != origin {
        return Err(format!(
            "the verifier key {vkey:?} is for the log {name:?}, not {origin:?}: a log's checkpoints \
             are signed under its origin, so give --log {name}={vkey} if {name:?} is the log meant"
        ));
    }
    Ok(WitnessedLog {
        origin: origin.to_owned(),
        key,
    })
}

pub async fn run(args: WitnessArgs) -> anyhow::Result<ExitCode> {
    init_logs(args.log_format);
    // Checked before the key file or the database is created: a refused start leaves nothing.
    let mut seen = std::collections::HashSet::new();
    if let Some(twice) = args.logs.iter().find(|l| !seen.insert(&l.origin)) {
        anyhow::bail!("the log {} is configured twice", twice.origin);
    }
    let (key, created) = keys::load_or_create(&args.key)?;
    if created {
        tracing::info!(path = %args.key.display(), "created the witness key");
    }
    let db = DbUrl::new(args.db);
    let witness = Witness::open(WitnessConfig {
        name: args.name,
        key,
        db: db.clone(),
        logs: args.logs.into_iter().map(|l| (l.origin, l.key)).collect(),
    })
    .await?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    tracing::info!(
        name = witness.name(),
        key = %hex::encode(witness.public_key().as_bytes()),
        verifier_key = %witness.verifier_key(),
        "the witness's identity, for the ledger's ledger.witnesses_set"
    );
    for origin in witness_origins(&witness).await? {
        tracing::info!(origin = origin.0, size = origin.1, "witnessing");
    }
    tracing::info!(listen = %listener.local_addr()?, db = %db, "serving");
    witness.serve(listener, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Each witnessed origin with the size last cosigned for it.
async fn witness_origins(witness: &Witness) -> anyhow::Result<Vec<(String, u64)>> {
    let mut out = Vec::new();
    for origin in witness.origins() {
        let size = witness.cosigned(origin).await?.map_or(0, |c| c.size);
        out.push((origin.clone(), size));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn vkey(name: &str) -> (String, VerifyingKey) {
        let key = SigningKey::from_bytes(&[5; 32]).verifying_key();
        (checkpoint::verifier_key(name, &key), key)
    }

    #[test]
    fn log_arguments_parse() {
        let (v, key) = vkey("hwledger.example/320404");
        assert_eq!(
            parse_log(&format!("hwledger.example/320404={v}")),
            Ok(WitnessedLog {
                origin: "hwledger.example/320404".into(),
                key
            })
        );
        // An origin holding '=' is found all the same.
        let (v, key) = vkey("a=b");
        assert_eq!(
            parse_log(&format!("a=b={v}")),
            Ok(WitnessedLog {
                origin: "a=b".into(),
                key
            })
        );
        // A key under another name says so.
        let (v, _) = vkey("other.example");
        let e = parse_log(&format!("hwledger.example={v}")).unwrap_err();
        assert!(e.contains("is for the log \"other.example\""), "{e}");
        for bad in [
            "no-equals".to_owned(),
            "=".to_owned(),
            format!("a b={}", vkey("a b").0),
            format!("x={}", &vkey("x").0[..20]),
            "x=x+00000000+AAAA".to_owned(),
        ] {
            assert!(parse_log(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_key_names() {
        assert_eq!(
            parse_name("bureau.example/w").as_deref(),
            Ok("bureau.example/w")
        );
        for bad in ["", "a b", "a+b"] {
            assert!(parse_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn defaults_are_the_spec_s() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            witness: WitnessArgs,
        }
        let (v, _) = vkey("log.example");
        let log = format!("log.example={v}");
        let args = <Cli as clap::Parser>::parse_from([
            "hwledger", "--key", "w.pem", "--name", "w", "--log", &log,
        ])
        .witness;
        assert_eq!(args.db, "sqlite://witness.db");
        assert_eq!(args.listen, "127.0.0.1:8090");
        assert_eq!(args.logs.len(), 1);
        assert!(
            <Cli as clap::Parser>::try_parse_from(["hwledger", "--key", "w.pem", "--name", "w"])
                .is_err(),
            "at least one --log"
        );
    }
}
