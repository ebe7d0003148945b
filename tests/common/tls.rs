//! A throw-away public key infrastructure for the TLS and mTLS tests: a
//! private CA, a server certificate it issued for 127.0.0.1 and localhost, a
//! client certificate it issued, an unrelated second CA with its own client
//! certificate (for "wrong CA" and "refused client certificate" cases) and a
//! key that matches no certificate (for "key does not match its
//! certificate"), all PEM files in a temporary folder. Generated afresh by
//! rcgen for each test (ECDSA P-256, a few milliseconds), never stored.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};

/// The PEM files, in `dir` (removed when this is dropped).
pub struct Pki {
    pub dir: tempfile::TempDir,
    /// The private CA's certificate (`ca.pem`): what a client trusts.
    pub ca: PathBuf,
    /// The server's certificate (`server.pem`, issued by `ca`, for the IP
    /// address 127.0.0.1 and the name localhost, extended key usage
    /// serverAuth) and its key (`server.key`, PKCS#8).
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// A client certificate issued by `ca` (`client.pem`, clientAuth, CN
    /// "coder-telemetry test client") and its key (`client.key`).
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// An unrelated CA (`other-ca.pem`): trusting it instead of `ca` must
    /// fail the handshake.
    pub other_ca: PathBuf,
    /// A client certificate issued by `other_ca` (`other-client.pem`,
    /// `other-client.key`): a server that trusts only `ca` refuses it.
    pub other_client_cert: PathBuf,
    pub other_client_key: PathBuf,
    /// A valid private key (`mismatched.key`) that belongs to no certificate
    /// here: with `client_cert` it is a key that does not match its certificate.
    pub mismatched_key: PathBuf,
}

impl Pki {
    /// Generates everything into a new temporary folder.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir for the PEM files");
        let d = dir.path().to_path_buf();
        let write = |name: &str, pem: String| -> PathBuf {
            let p = d.join(name);
            std::fs::write(&p, pem).expect("write a PEM file");
            p
        };

        let ca = ca_issuer("coder-telemetry test CA");
        let other = ca_issuer("coder-telemetry unrelated CA");

        let (server_cert, server_key) = leaf(
            &ca,
            "localhost",
            vec![
                SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                SanType::DnsName("localhost".try_into().expect("a DNS name")),
            ],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let (client_cert, client_key) = leaf(
            &ca,
            "coder-telemetry test client",
            Vec::new(),
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        let (other_client_cert, other_client_key) = leaf(
            &other,
            "coder-telemetry unrelated client",
            Vec::new(),
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        let mismatched = KeyPair::generate().expect("generate a key");

        Pki {
            ca: write("ca.pem", ca.pem()),
            server_cert: write("server.pem", server_cert),
            server_key: write("server.key", server_key),
            client_cert: write("client.pem", client_cert),
            client_key: write("client.key", client_key),
            other_ca: write("other-ca.pem", other.pem()),
            other_client_cert: write("other-client.pem", other_client_cert),
            other_client_key: write("other-client.key", other_client_key),
            mismatched_key: write("mismatched.key", mismatched.serialize_pem()),
            dir,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Default for Pki {
    fn default() -> Self {
        Self::new()
    }
}

type Ca = CertifiedIssuer<'static, KeyPair>;

/// A self-signed CA certificate that may issue certificates.
fn ca_issuer(name: &str) -> Ca {
    let mut p = CertificateParams::new(Vec::new()).expect("CA parameters");
    p.distinguished_name.push(DnType::CommonName, name);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    CertifiedIssuer::self_signed(p, KeyPair::generate().expect("generate a key")).expect("self-sign the CA")
}

/// An end-entity certificate issued by `ca`; its PEM and its key's PEM.
fn leaf(ca: &Ca, name: &str, sans: Vec<SanType>, usage: ExtendedKeyUsagePurpose) -> (String, String) {
    let mut p = CertificateParams::new(Vec::new()).expect("leaf parameters");
    p.distinguished_name.push(DnType::CommonName, name);
    p.subject_alt_names = sans;
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![usage];
    p.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate().expect("generate a key");
    let cert = p.signed_by(&key, ca).expect("issue a certificate");
    (cert.pem(), key.serialize_pem())
}
