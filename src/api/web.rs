//! The web console: the files under `web/`, compiled into the binary and served at `/` and
//! `/assets/…`, with the security headers every response of the service carries.
//!
//! The console is a client like any other: it signs events and read tokens in the browser and
//! talks to the same `/v1/…` endpoints. Nothing here judges a rule.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rust_embed::Embed;
use sha2::{Digest, Sha256};

use super::ApiError;

/// Only the page and its assets: `web/` also holds the test driver's `node_modules`, which
/// must never end up in the binary.
#[derive(Embed)]
#[folder = "web/"]
#[include = "index.html"]
#[include = "assets/*"]
struct Assets;

/// The Content-Security-Policy of every response: scripts, styles and connections only from
/// this origin, no inline script, no plug-ins, no framing. Images may be `data:`/`blob:` URLs
/// (QR codes and charts are drawn in the page).
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; media-src 'self' blob:; \
object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Where the console's files come from: the copy compiled into the binary, or a folder on disk
/// (`serve --web-dir`, for working on the console without rebuilding).
#[derive(Clone, Debug, Default)]
pub enum WebSource {
    #[default]
    Embedded,
    Dir(Arc<PathBuf>),
}

/// The console's routes; merged into the service's router.
pub fn routes<S: Clone + Send + Sync + 'static>(source: WebSource) -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
        .route("/assets/{*path}", get(asset))
        .with_state(source)
}

async fn index(State(source): State<WebSource>, headers: HeaderMap) -> Response {
    match load(&source, "index.html").await {
        Some(bytes) => respond("index.html", bytes, &headers),
        None => ApiError::NotFound("the console".into()).into_response(),
    }
}

async fn asset(
    State(source): State<WebSource>,
    UrlPath(path): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let path = format!("assets/{path}");
    match safe_relative(&path) {
        Some(rel) => match load(&source, &rel).await {
            Some(bytes) => respond(&rel, bytes, &headers),
            None => ApiError::NotFound(format!("/{path}")).into_response(),
        },
        None => ApiError::NotFound(format!("/{path}")).into_response(),
    }
}

/// `path` as a relative path of plain components, or `None` for anything that could leave the
/// folder (`..`, absolute paths, empty components, back slashes).
fn safe_relative(path: &str) -> Option<String> {
    let plain = |seg: &str| {
        !seg.is_empty() && seg != "." && seg != ".." && !seg.contains(['\\', '\0', ':'])
    };
    (path.split('/').all(plain) && Path::new(path).is_relative()).then(|| path.to_owned())
}

async fn load(source: &WebSource, rel: &str) -> Option<Cow<'static, [u8]>> {
    match source {
        WebSource::Embedded => Assets::get(rel).map(|f| f.data),
        WebSource::Dir(dir) => tokio::fs::read(dir.join(rel)).await.ok().map(Cow::Owned),
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The file with a strong ETag of its content; the browser revalidates every time (`no-cache`),
/// so a new binary's console is picked up at once and an unchanged file costs a 304.
fn respond(path: &str, bytes: Cow<'static, [u8]>, headers: &HeaderMap) -> Response {
    let etag = format!("\"{}\"", hex::encode(&Sha256::digest(&bytes)[..16]));
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut res = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut res = Response::new(Body::from(bytes));
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(content_type(path)),
        );
        res
    };
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    res
}

/// Headers every response carries, console or API: the CSP above, no MIME sniffing, no
/// referrer, no framing.
pub async fn security_headers(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_are_served() {
        assert_eq!(
            safe_relative("assets/app/main.js").as_deref(),
            Some("assets/app/main.js")
        );
        for bad in [
            "assets/../Cargo.toml",
            "assets//x.js",
            "/etc/passwd",
            "assets/a\\..\\b",
            "assets/./x.js",
            "assets/x\0.js",
        ] {
            assert_eq!(safe_relative(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_console_is_compiled_in() {
        assert!(Assets::get("index.html").is_some());
        assert!(Assets::get("assets/app/main.js").is_some());
        assert!(Assets::iter().all(|f| f == "index.html" || f.starts_with("assets/")));
    }
}
