//! A small blocking HTTP client for the commands that talk to a running service.

use anyhow::{bail, Context};
use serde_json::Value;

/// Answers of the service: the status and the body.
pub struct Answer {
    pub status: u16,
    pub body: String,
}

fn join(base: &str, path: &str) -> String {
    format!("{}{}", base.trim_end_matches('/'), path)
}

fn answer(result: Result<ureq::Response, ureq::Error>, url: &str) -> anyhow::Result<Answer> {
    match result {
        Ok(r) => {
            let status = r.status();
            Ok(Answer {
                status,
                body: r.into_string().context("reading the answer")?,
            })
        }
        Err(ureq::Error::Status(status, r)) => Ok(Answer {
            status,
            body: r.into_string().unwrap_or_default(),
        }),
        Err(e) => Err(e).with_context(|| format!("cannot reach {url}")),
    }
}

/// POSTs JSON.
pub fn post_json(base: &str, path: &str, body: &Value) -> anyhow::Result<Answer> {
    let url = join(base, path);
    let bytes = serde_json::to_vec(body)?;
    answer(
        ureq::post(&url)
            .set("Content-Type", "application/json")
            .send_bytes(&bytes),
        &url,
    )
}

/// GETs a path, with a bearer token when one is given; any status but 200 is an error.
pub fn get(base: &str, path: &str, token: Option<&str>) -> anyhow::Result<String> {
    let url = join(base, path);
    let mut req = ureq::get(&url);
    if let Some(t) = token {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    let a = answer(req.call(), &url)?;
    if a.status != 200 {
        bail!("GET {url} answered {}: {}", a.status, a.body);
    }
    Ok(a.body)
}
