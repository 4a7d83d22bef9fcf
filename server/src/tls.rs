//! Built-in TLS (issue 13; the seed's "always encrypt session traffic with
//! HTTPS", ASVS 12.1/12.2): rustls with the ring provider, TLS 1.2 and 1.3
//! only, rustls' default cipher suites, HTTP/2 and HTTP/1.1 by ALPN. The
//! certificate and key are PEM files, re-read on SIGHUP: new connections
//! get the new certificate, connections already open keep theirs.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS certificate {path}: {reason}")]
    Certificate { path: PathBuf, reason: String },
    #[error("cannot read the TLS private key {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("the TLS certificate and key do not go together: {0}")]
    Config(#[from] rustls::Error),
    #[error("cannot create the self-signed certificate: {0}")]
    SelfSigned(String),
}

/// The server configuration from a certificate chain and key file.
pub fn load(cert_path: &Path, key_path: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_path)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| TlsError::Certificate {
            path: cert_path.to_owned(),
            reason: e.to_string(),
        })?;
    if certificates.is_empty() {
        return Err(TlsError::Certificate {
            path: cert_path.to_owned(),
            reason: "no certificate in the file".to_owned(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| TlsError::Key {
        path: key_path.to_owned(),
        reason: e.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        // TLS 1.2 and 1.3: rustls implements nothing older.
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certificates, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    // rustls' suites are listed strongest first: use that order, not the
    // client's (testssl.sh "Has server cipher order").
    config.ignore_client_order = true;
    Ok(Arc::new(config))
}

/// The common name of the development certificate: only a certificate with
/// this name is ever replaced by `ensure_self_signed`.
const DEVELOPMENT_NAME: &str = "Tessera development certificate (localhost)";
/// How long the development certificate is valid (testssl.sh flags the
/// 1975-4096 span rcgen gives by default), and how close to its end it is
/// made again.
const DEVELOPMENT_DAYS: i64 = 365;
const RENEW_DAYS_BEFORE_END: i64 = 30;

/// Creates a self-signed certificate for localhost, 127.0.0.1 and ::1 at
/// the two paths (development only: `make run-tls`) when there is none, or
/// when the one there is ours and ends within 30 days. Valid from a day
/// before `now` for a year. The key file is readable by its owner only.
/// Returns whether it made one.
pub fn ensure_self_signed(
    cert_path: &Path,
    key_path: &Path,
    now: std::time::SystemTime,
) -> Result<bool, TlsError> {
    let now = time::OffsetDateTime::from(now);
    if let Ok(pem) = std::fs::read(cert_path) {
        let renew = development_certificate_end(&pem)
            .is_some_and(|end| end - now < time::Duration::days(RENEW_DAYS_BEFORE_END));
        if !renew {
            return Ok(false);
        }
    }
    let failed = |e: &dyn std::fmt::Display| TlsError::SelfSigned(e.to_string());
    let names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let mut params = rcgen::CertificateParams::new(names).map_err(|e| failed(&e))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, DEVELOPMENT_NAME);
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(DEVELOPMENT_DAYS);
    let key = rcgen::KeyPair::generate().map_err(|e| failed(&e))?;
    let cert = params.self_signed(&key).map_err(|e| failed(&e))?;
    for path in [cert_path, key_path] {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| failed(&e))?;
        }
    }
    write_private(key_path, key.serialize_pem().as_bytes()).map_err(|e| failed(&e))?;
    std::fs::write(cert_path, cert.pem()).map_err(|e| failed(&e))?;
    Ok(true)
}

/// When the certificate in `pem` ends, if it is our development one (any
/// other certificate, or a file that does not parse, is left alone).
fn development_certificate_end(pem: &[u8]) -> Option<time::OffsetDateTime> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem).ok()?;
    let cert = pem.parse_x509().ok()?;
    let ours = cert
        .subject()
        .iter_common_name()
        .any(|cn| cn.as_str().ok() == Some(DEVELOPMENT_NAME));
    ours.then(|| cert.validity().not_after.to_datetime())
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

/// The configuration new connections use, swapped on reload.
pub struct Certificates {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: RwLock<Arc<ServerConfig>>,
}

impl Certificates {
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Self, TlsError> {
        Ok(Self {
            current: RwLock::new(load(cert_path, key_path)?),
            cert_path: cert_path.to_owned(),
            key_path: key_path.to_owned(),
        })
    }

    pub fn current(&self) -> Arc<ServerConfig> {
        match self.current.read() {
            Ok(config) => config.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Re-reads the files; on failure the certificate in use stays and the
    /// error is returned (and logged by the caller).
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = load(&self.cert_path, &self.key_path)?;
        match self.current.write() {
            Ok(mut config) => *config = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        Ok(())
    }

    /// Reloads on every SIGHUP for the life of the process.
    pub fn reload_on_sighup(self: &Arc<Self>) -> std::io::Result<()> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangups = signal(SignalKind::hangup())?;
        let certificates = Arc::downgrade(self);
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                let Some(certificates) = certificates.upgrade() else {
                    break;
                };
                match certificates.reload() {
                    Ok(()) => tracing::info!("TLS certificate reloaded"),
                    Err(error) => {
                        tracing::error!(%error, "TLS certificate not reloaded; the old one stays")
                    }
                }
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_certificate_is_made_once_and_loads() {
        let dir = tempfile::tempdir().expect("dir");
        let cert = dir.path().join("tls/cert.pem");
        let key = dir.path().join("tls/key.pem");
        let now = std::time::SystemTime::now();
        assert!(ensure_self_signed(&cert, &key, now).expect("made"));
        assert!(
            !ensure_self_signed(&cert, &key, now).expect("kept"),
            "not twice"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).expect("key").permissions().mode();
        assert_eq!(mode & 0o077, 0, "the key is private: {mode:o}");
        let certificates = Certificates::load(&cert, &key).expect("loads");
        assert_eq!(certificates.current().alpn_protocols.len(), 2);
        assert!(certificates.reload().is_ok());
    }

    #[test]
    fn the_development_certificate_lasts_a_year_and_is_renewed_near_its_end() {
        let dir = tempfile::tempdir().expect("dir");
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        let day = std::time::Duration::from_secs(86_400);
        let now = std::time::SystemTime::now();
        assert!(ensure_self_signed(&cert, &key, now).expect("made"));
        let pem = std::fs::read(&cert).expect("cert");
        let end = development_certificate_end(&pem).expect("ours");
        let days = (end - time::OffsetDateTime::from(now)).whole_days();
        assert!((364..=365).contains(&days), "valid for a year: {days} days");
        assert!(!ensure_self_signed(&cert, &key, now + 300 * day).expect("kept"));
        assert!(ensure_self_signed(&cert, &key, now + 340 * day).expect("renewed"));
        assert_ne!(
            std::fs::read(&cert).expect("cert"),
            pem,
            "a new certificate"
        );
        assert!(Certificates::load(&cert, &key).is_ok());

        // Anyone else's certificate is never replaced, even an expired one.
        let theirs = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
            .expect("theirs")
            .cert
            .pem();
        std::fs::write(&cert, &theirs).expect("write");
        let far = now + 4_000 * 365 * day;
        assert!(!ensure_self_signed(&cert, &key, far).expect("left alone"));
        assert_eq!(std::fs::read_to_string(&cert).expect("cert"), theirs);
    }

    #[test]
    fn bad_files_are_refused_with_the_path() {
        let dir = tempfile::tempdir().expect("dir");
        let cert = dir.path().join("cert.pem");
        std::fs::write(&cert, "not a certificate").expect("write");
        let Err(error) = load(&cert, &dir.path().join("missing.pem")) else {
            panic!("a bad certificate file must be refused");
        };
        assert!(error.to_string().contains("cert.pem"), "{error}");
    }
}
