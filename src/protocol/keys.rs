//! Ed25519 key files: PKCS#8 PEM on disk, created with mode 0600 (spec §1).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context};
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::SigningKey;

/// Reads a PKCS#8 PEM private key.
pub fn load(path: &Path) -> anyhow::Result<SigningKey> {
    let pem = fs::read_to_string(path)
        .with_context(|| format!("cannot read key file {}", path.display()))?;
    SigningKey::from_pkcs8_pem(&pem)
        .map_err(|e| anyhow::anyhow!("{} is not a PKCS#8 Ed25519 key: {e}", path.display()))
}

/// Writes a new random key to `path`, which must not exist yet, with mode 0600.
pub fn create(path: &Path) -> anyhow::Result<SigningKey> {
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    write_new(path, &key)?;
    Ok(key)
}

/// Writes `key` to `path`, which must not exist yet, with mode 0600 from the first byte.
pub fn write_new(path: &Path, key: &SigningKey) -> anyhow::Result<()> {
    // PKCS#8 v1 (no embedded public key): the form `openssl genpkey` writes and every common
    // tool reads.
    let pem = ed25519_dalek::pkcs8::KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    }
    .to_pkcs8_pem(Default::default())
    .map_err(|e| anyhow::anyhow!("cannot encode key: {e}"))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = match options.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!(
                "{} already exists; refusing to overwrite a key",
                path.display()
            )
        }
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
    };
    file.write_all(pem.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

/// Loads the key at `path`, creating it first when the file is missing. Returns whether it was
/// created.
pub fn load_or_create(path: &Path) -> anyhow::Result<(SigningKey, bool)> {
    if path.exists() {
        Ok((load(path)?, false))
    } else {
        Ok((create(path)?, true))
    }
}

/// Lowercase hex of a key's public half.
pub fn public_hex(key: &SigningKey) -> String {
    hex::encode(key.verifying_key().to_bytes())
}

/// Whether 32 bytes are a public key the ledger accepts: a valid point that is not of small
/// order (a weak key would let one signature verify for many messages).
pub fn acceptable_public_key(bytes: &[u8; 32]) -> bool {
    ed25519_dalek::VerifyingKey::from_bytes(bytes).is_ok_and(|k| !k.is_weak())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_keys_are_private_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/k.pem");
        let (k, created) = load_or_create(&path).unwrap();
        assert!(created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let pem = fs::read_to_string(&path).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
        // Version 1 DER: 48 bytes, as `openssl genpkey -algorithm ed25519` writes.
        let der = ed25519_dalek::pkcs8::KeypairBytes::from_pkcs8_pem(&pem).unwrap();
        assert!(der.public_key.is_none());
        let (again, created) = load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(again.to_bytes(), k.to_bytes());
        assert!(create(&path).is_err(), "never overwrites a key");
        // A given key is written the same way, and reads back as itself.
        let copy = dir.path().join("copy.pem");
        write_new(&copy, &k).unwrap();
        assert_eq!(load(&copy).unwrap().to_bytes(), k.to_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&copy).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(write_new(&copy, &k).is_err(), "never overwrites a key");
    }

    #[test]
    fn weak_keys_are_refused() {
        assert!(!acceptable_public_key(&[0; 32]));
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(!acceptable_public_key(&identity));
        let good = SigningKey::from_bytes(&[9; 32]).verifying_key().to_bytes();
        assert!(acceptable_public_key(&good));
    }
}
