//! The client's TLS: which CAs an `https://` server's certificate may be signed by, and a certificate
//! problem in one line for the user.
use std::path::Path;

use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig, TlsProvider};

/// Rustls, trusting the CAs in `ca_file` (PEM) if given, else the well-known public CAs
/// (webpki-roots, compiled in: the same on a fresh Debian as in the static musl binary).
pub fn config(ca_file: Option<&Path>) -> Result<TlsConfig, String> {
    let roots = match ca_file {
        None => RootCerts::WebPki,
        Some(path) => RootCerts::new_with_certs(&read_cas(path)?),
    };
    Ok(TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .root_certs(roots)
        .build())
}

fn read_cas(path: &Path) -> Result<Vec<Certificate<'static>>, String> {
    let name = path.display();
    let pem = std::fs::read(path).map_err(|e| format!("--ca-file: cannot read {name}: {e}"))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(PemItem::Certificate(cert)) => certs.push(cert),
            Ok(_) => {}
            Err(e) => return Err(format!("--ca-file: {name}: not valid PEM: {e}")),
        }
    }
    if certs.is_empty() {
        return Err(format!(
            "--ca-file: no certificate in {name} (PEM: -----BEGIN CERTIFICATE-----)"
        ));
    }
    Ok(certs)
}

/// A TLS failure in words: what is wrong with the server's certificate, and what to do.
pub fn describe(e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    let problem = match e {
        rustls::Error::InvalidCertificate(cert) => match cert {
            C::UnknownIssuer => "is not trusted: signed by a CA this client does not know (give it with --ca-file or WEBLOCK_CA_FILE)".to_string(),
            C::BadSignature => "is not trusted: its signature is wrong".to_string(),
            C::Expired | C::ExpiredContext { .. } => "has expired".to_string(),
            C::NotValidYet | C::NotValidYetContext { .. } => "is not valid yet".to_string(),
            C::Revoked => "is revoked".to_string(),
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                "is for another name than the one in the URL".to_string()
            }
            other => format!("is refused: {other}"),
        },
        other => return format!("TLS failed: {other} (is it an https:// server?)"),
    };
    format!("TLS: the server's certificate {problem}")
}
