//! The server's TLS settings (`serve --tls-cert FILE --tls-key FILE [--tls-client-ca FILE]`): the
//! certificate and key read from PEM files, put in force behind a lock that SIGHUP swaps whole (new
//! handshakes get the new certificate; sessions under way keep theirs), and the client-certificate
//! check. rustls on the ring provider; nothing here knows what the connections carry.
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};

/// Where the certificate, its key and (optionally) the clients' CA are read from.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Clients must present a certificate signed by this CA; its subject's CN is their identity.
    pub client_ca: Option<PathBuf>,
}

/// TLS in force: the rustls configuration every new session starts from, and the certificate in it.
pub struct Tls {
    config: Arc<ServerConfig>,
    current: Arc<Current>,
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tls({})", self.files.cert.display())
    }
}

impl Tls {
    /// Reads the files; an error is one line naming the file and what is wrong with it.
    pub fn load(files: TlsFiles) -> Result<Tls, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = certified_key(&files.cert, &files.key, &provider)?;
        let current = Arc::new(Current(RwLock::new(Arc::new(key))));
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?;
        let builder = match &files.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                for cert in read_certs(ca)? {
                    roots.add(cert).map_err(|e| {
                        format!("{}: not a usable CA certificate: {e}", ca.display())
                    })?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()
                        .map_err(|e| format!("{}: {e}", ca.display()))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder.with_cert_resolver(current.clone());
        // Only HTTP/1.1 is spoken: said in the handshake, so a client never tries HTTP/2 here.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            config: Arc::new(config),
            current,
            files,
            provider,
        })
    }

    /// The configuration new sessions start from.
    pub fn config(&self) -> Arc<ServerConfig> {
        self.config.clone()
    }

    /// Whether clients must present a certificate.
    pub fn wants_client_certs(&self) -> bool {
        self.files.client_ca.is_some()
    }

    /// Reads the certificate and key again and puts them in force for new handshakes; on an error
    /// the ones in force stay. Returns the certificate file's name.
    pub fn reload(&self) -> Result<&Path, String> {
        let key = certified_key(&self.files.cert, &self.files.key, &self.provider)?;
        *self
            .current
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(key);
        Ok(&self.files.cert)
    }
}

/// The certificate in force, for every handshake whatever name the client asked for.
#[derive(Debug)]
struct Current(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Current {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.0
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
        )
    }
}

/// Every certificate in a PEM file (the server's first, then its chain); at least one.
fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let name = path.display();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{name}: {}", pem_error(e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{name}: {}", pem_error(e)))?;
    if certs.is_empty() {
        return Err(format!(
            "{name}: no certificate in it (PEM: -----BEGIN CERTIFICATE-----)"
        ));
    }
    Ok(certs)
}

/// The certificate and its key, checked to belong together.
fn certified_key(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, String> {
    let certs = read_certs(cert)?;
    let der = PrivateKeyDer::from_pem_file(key).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => format!(
            "{}: no private key in it (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC)",
            key.display()
        ),
        e => format!("{}: {}", key.display(), pem_error(e)),
    })?;
    CertifiedKey::from_der(certs, der, provider).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => format!(
            "{}: the key does not match the certificate in {}",
            key.display(),
            cert.display()
        ),
        e => format!("{}: unusable key: {e}", key.display()),
    })
}

fn pem_error(e: rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    match e {
        Error::Io(e) => format!("cannot read it: {e}"),
        Error::NoItemsFound => "nothing in PEM form in it".to_string(),
        e => format!("not valid PEM: {e:?}"),
    }
}

#[cfg(all(test, target_os = "linux"))]
pub(crate) mod tests {
    use super::*;

    /// A CA, and a server certificate for localhost signed by it, in PEM; the key's algorithm as asked.
    pub fn server_pem(alg: &'static rcgen::SignatureAlgorithm) -> (String, String, String) {
        server_pem_with(rcgen::KeyPair::generate_for(alg).expect("key"))
    }

    /// The same, for a key of the caller's (ring cannot make RSA keys: the RSA one is a fixture).
    pub fn server_pem_with(key: rcgen::KeyPair) -> (String, String, String) {
        let ca_key = rcgen::KeyPair::generate().expect("key");
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "test CA");
        let ca_cert = ca.self_signed(&ca_key).expect("ca");
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "server");
        let cert = params.signed_by(&key, &issuer).expect("cert");
        (ca_cert.pem(), cert.pem(), key.serialize_pem())
    }

    fn files(dir: &Path, cert: &str, key: &str) -> TlsFiles {
        std::fs::write(dir.join("cert.pem"), cert).expect("write");
        std::fs::write(dir.join("key.pem"), key).expect("write");
        TlsFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            client_ca: None,
        }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("weblock-tls-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        dir
    }

    #[test]
    fn ecdsa_keys_in_pkcs8_load() {
        let dir = temp_dir("ecdsa");
        let (_, cert, key) = server_pem(&rcgen::PKCS_ECDSA_P256_SHA256);
        assert!(Tls::load(files(&dir, &cert, &key)).is_ok());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn sec1_and_pkcs1_keys_load() {
        let dir = temp_dir("sec1");
        let (_, cert, key) = server_pem(&rcgen::PKCS_ECDSA_P256_SHA256);
        // The same key as SEC1 ("EC PRIVATE KEY").
        let der = PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key");
        let sec1 = unwrap_pkcs8(der.secret_der(), "EC PRIVATE KEY");
        assert!(Tls::load(files(&dir, &cert, &sec1)).is_ok(), "{sec1}");

        // RSA, as PKCS#8 and as PKCS#1 ("RSA PRIVATE KEY").
        let rsa = include_str!("testdata/rsa-2048.pk8.pem");
        let pair = rcgen::KeyPair::from_pem(rsa).expect("rsa key");
        let (_, cert, key) = server_pem_with(pair);
        assert!(Tls::load(files(&dir, &cert, &key)).is_ok());
        let der = PrivateKeyDer::from_pem_slice(rsa.as_bytes()).expect("key");
        let pkcs1 = unwrap_pkcs8(der.secret_der(), "RSA PRIVATE KEY");
        assert!(Tls::load(files(&dir, &cert, &pkcs1)).is_ok(), "{pkcs1}");
        let _ = std::fs::remove_dir_all(dir);
    }

    /// PKCS#1 (RSA) and SEC1 (EC) keys are what PKCS#8's OCTET STRING holds: taken out, in their own PEM.
    fn unwrap_pkcs8(pkcs8: &[u8], label: &str) -> String {
        // PKCS#8: SEQUENCE { INTEGER 0, AlgorithmIdentifier, OCTET STRING { ECPrivateKey } }.
        let (body, _) = crate::http::subject::tlv(pkcs8).expect("seq");
        let rest = crate::http::subject::skip(body).expect("version");
        let rest = crate::http::subject::skip(rest).expect("alg");
        let (sec1, _) = crate::http::subject::tlv(rest).expect("octets");
        let b64 = crate::base64::encode(sec1);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).expect("ascii"))
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    #[test]
    fn bad_files_say_which_and_why() {
        let dir = temp_dir("bad");
        let (_, cert, key) = server_pem(&rcgen::PKCS_ECDSA_P256_SHA256);
        let (_, _, other_key) = server_pem(&rcgen::PKCS_ECDSA_P256_SHA256);
        let err = |cert: &str, key: &str| Tls::load(files(&dir, cert, key)).expect_err("refused");
        let e = err("hello", &key);
        assert!(
            e.contains("cert.pem") && e.contains("no certificate"),
            "{e}"
        );
        let e = err(&cert, "hello");
        assert!(e.contains("key.pem") && e.contains("no private key"), "{e}");
        let e = err(&cert, &other_key);
        assert!(e.contains("does not match"), "{e}");
        let e = err(&key, &key);
        assert!(e.contains("cert.pem"), "{e}");
        let missing = TlsFiles {
            cert: dir.join("nowhere.pem"),
            key: dir.join("key.pem"),
            client_ca: None,
        };
        let e = Tls::load(missing).expect_err("refused");
        assert!(
            e.contains("nowhere.pem") && e.contains("cannot read"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_failed_reload_keeps_the_certificate_in_force() {
        let dir = temp_dir("reload");
        let (_, cert, key) = server_pem(&rcgen::PKCS_ECDSA_P256_SHA256);
        let tls = Tls::load(files(&dir, &cert, &key)).expect("loads");
        let before = tls.current.0.read().expect("lock").clone();
        std::fs::write(dir.join("key.pem"), "garbage").expect("write");
        assert!(tls.reload().is_err());
        assert!(Arc::ptr_eq(&before, &tls.current.0.read().expect("lock")));
        let (_, cert2, key2) = server_pem(&rcgen::PKCS_ECDSA_P256_SHA256);
        files(&dir, &cert2, &key2);
        assert!(tls.reload().is_ok());
        assert!(!Arc::ptr_eq(&before, &tls.current.0.read().expect("lock")));
        let _ = std::fs::remove_dir_all(dir);
    }
}
