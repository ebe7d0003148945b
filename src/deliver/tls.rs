//! TLS material for `send` (SPEC §10.2): the CAs trusted for the server
//! (`--certificate`, in place of the system roots) and the client
//! certificate and key of mTLS (`--client-certificate`, `--client-key`).
//!
//! Every file is read bounded and parsed as PEM before anything is sent,
//! and a key that does not match its certificate is refused here (the HTTP
//! client would panic on it mid-send). Errors name the flag and the file,
//! never the file's contents.

use std::io::Read;
use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A PEM file larger than this is not a certificate bundle.
const MAX_PEM: u64 = 4 << 20;

/// Where the TLS material comes from: flags or `OTEL_EXPORTER_OTLP_*` variables.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// (the flag or variable that named it, the file)
    pub ca: Option<(String, PathBuf)>,
    pub client_cert: Option<(String, PathBuf)>,
    pub client_key: Option<(String, PathBuf)>,
}

/// Checked TLS material, ready for the HTTP client.
#[derive(Clone, Debug, Default)]
pub struct Tls {
    /// The CAs to trust instead of the system's.
    roots: Option<Vec<ureq::tls::Certificate<'static>>>,
    /// The client's certificate chain and key (mTLS).
    client: Option<ureq::tls::ClientCert>,
    /// The same as PEM, for the gRPC client.
    pub ca_pem: Option<Vec<u8>>,
    pub client_pem: Option<(Vec<u8>, Vec<u8>)>,
}

fn read(from: &str, path: &Path) -> Result<Vec<u8>, String> {
    let shown = path.display();
    let file = std::fs::File::open(path).map_err(|e| format!("{from} {shown}: cannot read it: {e}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_PEM + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{from} {shown}: cannot read it: {e}"))?;
    if bytes.len() as u64 > MAX_PEM {
        return Err(format!("{from} {shown}: larger than {MAX_PEM} bytes, not a PEM file"));
    }
    Ok(bytes)
}

fn certs_in(from: &str, path: &Path, bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{from} {}: not valid PEM ({e})", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{from} {}: holds no certificate (expected PEM, -----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(certs)
}

impl TlsFiles {
    /// Reads and checks the files: a usage error (in words) for a missing
    /// or unusable file, a client certificate without its key or the other
    /// way round, or a key that does not match its certificate.
    pub fn load(&self) -> Result<Tls, String> {
        let owned = |c: &CertificateDer<'_>| ureq::tls::Certificate::from_der(c.as_ref()).to_owned();
        let (mut roots, mut ca_pem) = (None, None);
        if let Some((from, path)) = &self.ca {
            let bytes = read(from, path)?;
            roots = Some(certs_in(from, path, &bytes)?.iter().map(owned).collect());
            ca_pem = Some(bytes);
        }
        let mut client_pem = None;
        let client = match (&self.client_cert, &self.client_key) {
            (None, None) => None,
            (Some((from, _)), None) => {
                return Err(format!(
                    "{from} needs --client-key (or OTEL_EXPORTER_OTLP_CLIENT_KEY) too"
                ))
            }
            (None, Some((from, _))) => {
                return Err(format!(
                    "{from} needs --client-certificate (or OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE) too"
                ))
            }
            (Some((cfrom, cpath)), Some((kfrom, kpath))) => {
                let cert_bytes = read(cfrom, cpath)?;
                let chain = certs_in(cfrom, cpath, &cert_bytes)?;
                let bytes = read(kfrom, kpath)?;
                let no_key = || {
                    format!(
                        "{kfrom} {}: holds no private key (expected PEM, -----BEGIN PRIVATE KEY-----)",
                        kpath.display()
                    )
                };
                let key = PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| no_key())?;
                let provider = rustls::crypto::ring::default_provider();
                rustls::sign::CertifiedKey::from_der(chain.clone(), key.clone_key(), &provider).map_err(|e| {
                    format!(
                        "{kfrom} {} does not fit {cfrom} {}: {e}",
                        kpath.display(),
                        cpath.display()
                    )
                })?;
                let key = ureq::tls::PrivateKey::from_pem(&bytes).map_err(|_| no_key())?;
                let chain: Vec<_> = chain.iter().map(owned).collect();
                client_pem = Some((cert_bytes, bytes));
                Some(ureq::tls::ClientCert::new_with_certs(&chain, key))
            }
        };
        Ok(Tls {
            roots,
            client,
            ca_pem,
            client_pem,
        })
    }
}

impl Tls {
    /// The HTTP client's TLS configuration: these roots (else the
    /// platform's, which honour SSL_CERT_FILE) and this client certificate.
    pub fn ureq_config(&self) -> ureq::tls::TlsConfig {
        let roots = match &self.roots {
            Some(r) => ureq::tls::RootCerts::new_with_certs(r),
            None => ureq::tls::RootCerts::PlatformVerifier,
        };
        ureq::tls::TlsConfig::builder()
            .root_certs(roots)
            .client_cert(self.client.clone())
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_empty_files_are_refused_in_words() {
        let dir = tempfile::tempdir().unwrap();
        let none = TlsFiles {
            ca: Some(("--certificate".into(), dir.path().join("nope.pem"))),
            ..TlsFiles::default()
        };
        let e = none.load().unwrap_err();
        assert!(e.starts_with("--certificate") && e.contains("nope.pem"), "{e}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate").unwrap();
        let e = TlsFiles {
            ca: Some(("--certificate".into(), empty)),
            ..TlsFiles::default()
        }
        .load()
        .unwrap_err();
        assert!(e.contains("holds no certificate"), "{e}");
    }

    #[test]
    fn a_client_certificate_needs_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let e = TlsFiles {
            client_cert: Some(("--client-certificate".into(), dir.path().join("c.pem"))),
            ..TlsFiles::default()
        }
        .load()
        .unwrap_err();
        assert!(e.contains("needs --client-key"), "{e}");
    }
}
