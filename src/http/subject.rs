//! The subject's common name (CN) of a DER certificate: the identity a verified client certificate
//! gives its connection. A small DER walk (rustls verifies certificates but does not read their
//! names out); it only reads, never panics, and gives up (`None`) on anything unexpected.

/// The first CN of the certificate's subject, if it is a string.
pub fn common_name(cert: &[u8]) -> Option<String> {
    // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }
    let (cert, _) = element(cert, 0x30)?;
    let (mut tbs, _) = element(cert, 0x30)?;
    // version [0] EXPLICIT is optional (absent in v1 certificates).
    if tbs.first() == Some(&0xa0) {
        tbs = skip(tbs)?;
    }
    // serialNumber, signature, issuer, validity; then the subject.
    for _ in 0..4 {
        tbs = skip(tbs)?;
    }
    let (mut subject, _) = element(tbs, 0x30)?;
    while !subject.is_empty() {
        let (mut set, rest) = element(subject, 0x31)?;
        subject = rest;
        while !set.is_empty() {
            let (attribute, rest) = element(set, 0x30)?;
            set = rest;
            let (oid, value) = element(attribute, 0x06)?;
            // id-at-commonName, 2.5.4.3
            if oid == [0x55, 0x04, 0x03] {
                return string(value);
            }
        }
    }
    None
}

/// A DirectoryString's text.
fn string(der: &[u8]) -> Option<String> {
    let tag = *der.first()?;
    let (content, _) = tlv(der)?;
    match tag {
        // UTF8String, PrintableString, TeletexString (taken as Latin-1-free ASCII), IA5String
        0x0c | 0x13 | 0x14 | 0x16 => String::from_utf8(content.to_vec()).ok(),
        // BMPString: UTF-16BE
        0x1e if content.len() % 2 == 0 => {
            let units: Vec<u16> = content
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        _ => None,
    }
}

/// The content of the element at the start of `der` and what follows it, if its tag is `tag`.
fn element(der: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    if *der.first()? != tag {
        return None;
    }
    tlv(der)
}

/// The content of the element at the start of `der` (any tag) and what follows it.
pub(crate) fn tlv(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let first = *der.get(1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        // Indefinite lengths are not DER; more than 4 bytes of length is not a certificate.
        if n == 0 || n > 4 {
            return None;
        }
        let bytes = der.get(2..2 + n)?;
        let len = bytes
            .iter()
            .fold(0usize, |len, &b| (len << 8) | usize::from(b));
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    Some((der.get(header..end)?, der.get(end..)?))
}

/// What follows the element at the start of `der`.
pub(crate) fn skip(der: &[u8]) -> Option<&[u8]> {
    tlv(der).map(|(_, rest)| rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn the_common_name_is_read_from_a_real_certificate() {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Acme");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "team-ci");
        let cert = params.self_signed(&key).expect("cert");
        assert_eq!(common_name(cert.der()), Some("team-ci".to_string()));

        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "no CN");
        let cert = params.self_signed(&key).expect("cert");
        assert_eq!(common_name(cert.der()), None);
    }

    #[test]
    fn garbage_and_truncations_give_none() {
        assert_eq!(common_name(b""), None);
        assert_eq!(common_name(&[0x30]), None);
        assert_eq!(common_name(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(common_name(&[0x30, 0x80, 0x00, 0x00]), None);
        assert_eq!(common_name(&[0x30, 0x03, 0x30, 0x01, 0x02]), None);
    }

    #[test]
    fn lengths_in_long_form_are_read() {
        let mut der = vec![0x04, 0x81, 200];
        der.extend(std::iter::repeat_n(7u8, 200));
        der.push(0xff);
        let (content, rest) = tlv(&der).expect("element");
        assert_eq!(content.len(), 200);
        assert_eq!(rest, [0xff]);
    }
}
