//! `hwledger submit`: fills in `v`, `id` and `at` where missing, signs, posts, prints entries.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use serde_json::Value;
use uuid::Uuid;

use super::client;
use crate::protocol::{event, keys, time};

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The signing key (PKCS#8 PEM) of the event's actor.
    #[arg(long)]
    pub key: PathBuf,
    /// The service's base URL, e.g. http://127.0.0.1:8080
    #[arg(long)]
    pub url: String,
    /// Event files: a JSON object (one event) or an array of events (sent as one batch).
    #[arg(required = true)]
    pub events: Vec<PathBuf>,
}

/// Completes an event with the fields a client may leave out.
pub fn complete(event: &mut Value) -> anyhow::Result<()> {
    let Value::Object(map) = event else {
        bail!("an event is a JSON object");
    };
    map.entry("v").or_insert(Value::from(1));
    map.entry("id")
        .or_insert_with(|| Value::String(Uuid::new_v4().to_string()));
    map.entry("at").or_insert_with(|| {
        Value::String(time::format_timestamp(time::truncate_millis(
            chrono::Utc::now(),
        )))
    });
    Ok(())
}

pub fn run(args: SubmitArgs) -> anyhow::Result<ExitCode> {
    let key = keys::load(&args.key)?;
    let mut ok = true;
    for path in &args.events {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let value: Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        let body = match value {
            Value::Array(events) => Value::Array(
                events
                    .into_iter()
                    .map(|mut e| {
                        complete(&mut e)?;
                        Ok(event::sign_envelope(&e, &key))
                    })
                    .collect::<anyhow::Result<_>>()?,
            ),
            mut e => {
                complete(&mut e)?;
                event::sign_envelope(&e, &key)
            }
        };
        let answer = client::post_json(&args.url, "/v1/events", &body)?;
        match answer.status {
            200 | 201 => {}
            status => {
                ok = false;
                eprintln!("{}: refused ({status})", path.display());
            }
        }
        let shown: Value = serde_json::from_str(&answer.body).unwrap_or(Value::String(answer.body));
        if let Value::Array(items) = &shown {
            for item in items {
                if item.get("problem").is_some() {
                    ok = false;
                }
                println!("{item}");
            }
        } else {
            println!("{shown}");
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
