//! HTTPS for `hwledger serve --tls-cert --tls-key`: the certificate and key read once at start,
//! and the router served over TLS (rustls with the `ring` provider) by the same accept loop as
//! plain HTTP ([`super::server`]), with the same limits and graceful shutdown.
//!
//! Browsers give WebCrypto, which the console signs with, only to secure contexts: a console
//! reached at anything but `localhost` needs HTTPS, from here or from a proxy in front.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};
use axum::Router;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

/// The TLS configuration of the certificate chain in `cert` and its private key in `key`, both
/// PEM. Every failure names the file and what is wrong with it, since a service that cannot
/// start is best told why before it touches the database.
pub fn server_config(cert: &Path, key: &Path) -> anyhow::Result<Arc<ServerConfig>> {
    let cert_pem = std::fs::read(cert)
        .with_context(|| format!("cannot read the TLS certificate {}", cert.display()))?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{} is not a PEM certificate file", cert.display()))?;
    if chain.is_empty() {
        bail!(
            "{} holds no certificate (a PEM block -----BEGIN CERTIFICATE-----)",
            cert.display()
        );
    }
    let key_pem = std::fs::read(key)
        .with_context(|| format!("cannot read the TLS private key {}", key.display()))?;
    let private = PrivateKeyDer::from_pem_slice(&key_pem).with_context(|| {
        format!(
            "{} holds no private key (a PEM block -----BEGIN PRIVATE KEY-----, or an RSA or EC key)",
            key.display()
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("the TLS provider offers no safe protocol version")?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .with_context(|| {
            format!(
                "the private key {} cannot serve the certificate {}",
                key.display(),
                cert.display()
            )
        })?;
    // The service speaks both; without ALPN a client would fall back to HTTP/1.1 only.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serves `app` over TLS on `listener` with the default [`super::ServeLimits`] until
/// `shutdown` resolves, then lets in-flight requests finish, like [`super::serve`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    config: Arc<ServerConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    super::server::serve(
        listener,
        app,
        Some(config),
        super::ServeLimits::default(),
        shutdown,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_malformed_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        let err = format!("{:#}", server_config(&cert, &key).unwrap_err());
        assert!(
            err.contains("cannot read the TLS certificate") && err.contains("cert.pem"),
            "{err}"
        );
        std::fs::write(&cert, "not a certificate\n").unwrap();
        let err = format!("{:#}", server_config(&cert, &key).unwrap_err());
        assert!(err.contains("holds no certificate"), "{err}");
        let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        std::fs::write(&cert, made.cert.pem()).unwrap();
        let err = format!("{:#}", server_config(&cert, &key).unwrap_err());
        assert!(err.contains("cannot read the TLS private key"), "{err}");
        std::fs::write(&key, made.cert.pem()).unwrap();
        let err = format!("{:#}", server_config(&cert, &key).unwrap_err());
        assert!(err.contains("holds no private key"), "{err}");
        let other = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        std::fs::write(&key, other.key_pair.serialize_pem()).unwrap();
        let err = format!("{:#}", server_config(&cert, &key).unwrap_err());
        assert!(err.contains("cannot serve the certificate"), "{err}");
        std::fs::write(&key, made.key_pair.serialize_pem()).unwrap();
        server_config(&cert, &key).expect("a matching pair loads");
    }
}
