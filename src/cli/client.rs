//! A small blocking HTTP client for the commands that talk to a running service.

use std::path::Path;

use anyhow::{bail, Context};
use ed25519_dalek::SigningKey;
use serde_json::Value;

use crate::protocol::{keys, token};

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

/// A reader of a service's protected paths as one org: it signs its own read tokens, and a fresh
/// one when the current one is within [`Reader::REFRESH_S`] of expiry, so that an export taking
/// many minutes keeps reading.
pub struct Reader {
    base: String,
    key: SigningKey,
    org: String,
    origin: String,
    current: Option<(String, i64)>,
}

impl Reader {
    /// Tokens live this long.
    const LIFETIME_S: i64 = token::DEFAULT_LIFETIME_S;
    /// A token this close to its expiry is replaced before use.
    pub const REFRESH_S: i64 = 60;

    /// A reader of `base` as `org` with the key in `key_file`; the origin (the tokens' audience)
    /// is read from `GET /v1/ledger`.
    pub fn connect(base: &str, key_file: &Path, org: &str) -> anyhow::Result<Reader> {
        let key = keys::load(key_file)?;
        let info: Value = serde_json::from_str(&get(base, "/v1/ledger", None)?)
            .context("GET /v1/ledger is not JSON")?;
        let origin = info["origin"]
            .as_str()
            .context("GET /v1/ledger names no origin")?
            .to_owned();
        Ok(Reader {
            base: base.to_owned(),
            key,
            org: org.to_owned(),
            origin,
            current: None,
        })
    }

    /// The service's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The token to send now.
    fn token(&mut self) -> &str {
        self.token_at(chrono::Utc::now().timestamp())
    }

    fn token_at(&mut self, now: i64) -> &str {
        let fresh = matches!(&self.current, Some((_, exp)) if now < exp - Self::REFRESH_S);
        if !fresh {
            let t = token::mint(&self.key, &self.org, &self.origin, now, Self::LIFETIME_S);
            self.current = Some((t, now + Self::LIFETIME_S));
        }
        &self.current.as_ref().expect("a token was just made").0
    }

    /// GETs a path with a current token; any status but 200 is an error.
    pub fn get(&mut self, path: &str) -> anyhow::Result<String> {
        let base = self.base.clone();
        get(&base, path, Some(self.token()))
    }

    /// Like [`Reader::get`], with `None` for a 404 (a thing that does not exist, or that this
    /// org may not see).
    pub fn get_optional(&mut self, path: &str) -> anyhow::Result<Option<String>> {
        let url = join(&self.base, path);
        let auth = format!("Bearer {}", self.token());
        let a = answer(ureq::get(&url).set("Authorization", &auth).call(), &url)?;
        match a.status {
            200 => Ok(Some(a.body)),
            404 => Ok(None),
            s => bail!("GET {url} answered {s}: {}", a.body),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_replaced_a_minute_before_it_expires() {
        let mut r = Reader {
            base: String::new(),
            key: SigningKey::from_bytes(&[3; 32]),
            org: "11320404MB0000001Y".into(),
            origin: "o".into(),
            current: None,
        };
        let first = r.token_at(1000).to_owned();
        assert_eq!(r.token_at(1000 + 239), first);
        let second = r.token_at(1000 + 240).to_owned();
        assert_ne!(second, first);
        let p = token::parse(&second, "o").unwrap();
        assert_eq!((p.iat, p.exp), (1240, 1540));
        assert!(p.signature_ok());
    }
}
