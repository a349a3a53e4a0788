//! A consumer's RSA public key, from what an admin pastes.
//!
//! Admins paste whatever their consumer shows them: a `PUBLIC KEY` PEM, an
//! `RSA PUBLIC KEY` PEM, a certificate, or (Jira's application-link screen) the bare
//! base64 of a SubjectPublicKeyInfo. All of them come out as one [`ConsumerPublicKey`]
//! whose `pem` is the SubjectPublicKeyInfo PEM with LF line endings, so the store holds
//! one spelling per key. Only RSA keys of at least 1024 bits are accepted: RSA-SHA1 is
//! the only public-key method OAuth 1.0a has.
//!
//! `rsa` parses and checks what admins paste; verifying runs on `ring`, about six
//! times faster on the same key (the bench's raw-verify table). Each consumer's key is
//! turned into `ring`'s form ([`RsaVerifyingKey`]) once and kept by consumer
//! ([`KeyCache`]), so no request pays for parsing PEM.

use crate::record_cache::Lookups;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa::RsaPublicKey;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::der::{Decode, Encode};
use rsa::pkcs8::{EncodePublicKey, LineEnding, SubjectPublicKeyInfoRef};
use rsa::traits::PublicKeyParts;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use x509_cert::Certificate;

/// Smaller RSA keys are factorable; Jira has generated 1024-bit keys for years.
const MIN_BITS: usize = 1024;
/// A 4096-bit certificate PEM is under 3 KiB; anything far larger is not a key.
const MAX_INPUT_BYTES: usize = 64 * 1024;

/// Why pasted key material was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(pub String);

impl KeyError {
    fn new(message: impl Into<String>) -> Self {
        KeyError(message.into())
    }
}

/// A parsed consumer public key and its normalised PEM (SubjectPublicKeyInfo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerPublicKey {
    /// The key, ready to verify with.
    pub key: RsaPublicKey,
    /// `-----BEGIN PUBLIC KEY-----` PEM of the key, what the store keeps.
    pub pem: String,
}

impl ConsumerPublicKey {
    /// Accepts a PEM public key (SubjectPublicKeyInfo or PKCS#1), an X.509 certificate
    /// (PEM), or bare base64 of a SubjectPublicKeyInfo DER as Jira's screen takes it.
    /// Refuses keys under 1024 bits.
    pub fn parse(text: &str) -> Result<ConsumerPublicKey, KeyError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(KeyError::new("no key was given"));
        }
        if text.len() > MAX_INPUT_BYTES {
            return Err(KeyError::new("the text is far too long to be a public key"));
        }
        let key = match armoured(text)? {
            Some((label, der)) => from_pem_block(label, &der)?,
            None => {
                let der = base64_decode(text).ok_or_else(|| {
                    KeyError::new(
                        "the text is neither PEM nor base64; paste a public key, an RSA public \
                         key or a certificate",
                    )
                })?;
                from_spki_der(&der)?
            }
        };
        let bits = key.n().bits();
        if bits < MIN_BITS {
            return Err(KeyError(format!(
                "the RSA key has {bits} bits; at least {MIN_BITS} are required"
            )));
        }
        let pem = key
            .to_public_key_pem(LineEnding::LF)
            .map_err(|error| KeyError(format!("the key cannot be re-encoded: {error}")))?;
        Ok(ConsumerPublicKey { key, pem })
    }
}

/// Splits a PEM block into its label and DER. `None` when the text is not armoured.
///
/// Written by hand rather than with `pem-rfc7468` on purpose: that decoder insists on
/// 64-column lines, and pasted keys arrive re-wrapped, with CRLF, or on one line.
fn armoured(text: &str) -> Result<Option<(&str, Vec<u8>)>, KeyError> {
    let Some(rest) = text.strip_prefix("-----BEGIN ") else {
        return Ok(None);
    };
    let (label, rest) = rest
        .split_once("-----")
        .ok_or_else(|| KeyError::new("the PEM BEGIN line is not closed with -----"))?;
    let end = format!("-----END {label}-----");
    let (body, trailing) = rest
        .split_once(&end)
        .ok_or_else(|| KeyError(format!("the PEM block has no {end} line")))?;
    if !trailing.trim().is_empty() {
        return Err(KeyError::new(
            "there is text after the PEM block; paste a single key or certificate",
        ));
    }
    let der = base64_decode(body)
        .ok_or_else(|| KeyError(format!("the body of the PEM {label} block is not base64")))?;
    Ok(Some((label, der)))
}

/// Standard base64, ignoring any whitespace (line breaks, indentation).
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(compact).ok()
}

fn from_pem_block(label: &str, der: &[u8]) -> Result<RsaPublicKey, KeyError> {
    match label {
        "PUBLIC KEY" => from_spki_der(der),
        "RSA PUBLIC KEY" => RsaPublicKey::from_pkcs1_der(der)
            .map_err(|error| KeyError(format!("not a valid PKCS#1 RSA public key: {error}"))),
        "CERTIFICATE" => from_certificate_der(der),
        label if label.contains("PRIVATE KEY") => Err(KeyError::new(
            "this is a private key; paste the consumer's public key or certificate instead",
        )),
        label => Err(KeyError(format!(
            "a PEM {label:?} block is not a public key or certificate"
        ))),
    }
}

fn from_certificate_der(der: &[u8]) -> Result<RsaPublicKey, KeyError> {
    let certificate = Certificate::from_der(der)
        .map_err(|error| KeyError(format!("not a valid X.509 certificate: {error}")))?;
    let spki = certificate
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|error| KeyError(format!("the certificate's key cannot be read: {error}")))?;
    from_spki_der(&spki)
}

fn from_spki_der(der: &[u8]) -> Result<RsaPublicKey, KeyError> {
    let spki = SubjectPublicKeyInfoRef::from_der(der)
        .map_err(|error| KeyError(format!("not a valid SubjectPublicKeyInfo: {error}")))?;
    let algorithm = spki.algorithm.oid;
    if algorithm != rsa::pkcs1::ALGORITHM_OID {
        return Err(KeyError(format!(
            "not an RSA key (algorithm {algorithm}); RSA-SHA1 needs an RSA public key"
        )));
    }
    RsaPublicKey::try_from(spki)
        .map_err(|error| KeyError(format!("not a valid RSA public key: {error}")))
}

/// A consumer's public key in the form the verifier takes: its modulus and exponent
/// as big-endian bytes without leading zeros.
///
/// Every key [`ConsumerPublicKey::parse`] accepts suits `ring`'s RSA-SHA1 verifier:
/// `rsa` already refuses an even modulus or exponent, an exponent under 2 or over
/// 2^33 - 1, and a modulus over 4096 bits, and the 1024-bit minimum is `ring`'s too.
#[derive(Clone, PartialEq, Eq)]
pub struct RsaVerifyingKey {
    pub(crate) modulus: Vec<u8>,
    pub(crate) exponent: Vec<u8>,
}

impl From<&RsaPublicKey> for RsaVerifyingKey {
    fn from(key: &RsaPublicKey) -> Self {
        RsaVerifyingKey {
            modulus: key.n().to_bytes_be(),
            exponent: key.e().to_bytes_be(),
        }
    }
}

impl std::fmt::Debug for RsaVerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaVerifyingKey({}-byte modulus)", self.modulus.len())
    }
}

/// Parsed RSA keys by consumer key, so no request pays for parsing PEM. An entry is
/// keyed by the PEM it came from too, so an updated key is never served stale.
#[derive(Debug, Default)]
pub(crate) struct KeyCache {
    pub(crate) keys: RwLock<HashMap<String, (String, Arc<RsaVerifyingKey>)>>,
    pub(crate) lookups: Lookups,
}

const KEY_CACHE_LIMIT: usize = 4096;

impl KeyCache {
    pub(crate) fn get(&self, consumer_key: &str, pem: &str) -> Option<Arc<RsaVerifyingKey>> {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let found = keys
            .get(consumer_key)
            .filter(|(cached_pem, _)| cached_pem == pem)
            .map(|(_, k)| k.clone());
        self.lookups.count(found)
    }

    pub(crate) fn put(&self, consumer_key: &str, pem: &str, key: Arc<RsaVerifyingKey>) {
        let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
        if keys.len() >= KEY_CACHE_LIMIT {
            keys.clear();
        }
        keys.insert(consumer_key.to_owned(), (pem.to_owned(), key));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// A self-signed RSA-2048 certificate made with `openssl req -x509`, and its key.
    const CERTIFICATE: &str = include_str!("../../tests/fixtures/oauth1-rsa-certificate.pem");
    const SPKI: &str = include_str!("../../tests/fixtures/oauth1-rsa-certificate-key.pem");
    const PKCS1: &str = include_str!("../../tests/fixtures/oauth1-rsa-certificate-key-pkcs1.pem");
    /// A self-signed P-256 certificate.
    const EC_CERTIFICATE: &str = include_str!("../../tests/fixtures/oauth1-ec-certificate.pem");

    const EC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEZmGkq4tAyY0fwTDHMd1jV9Srr35/
wONjTPpH7gy4sfnY5c91YfJUfF5fWQmBNcVyriyv+iSQl106WPPKpJBBLw==
-----END PUBLIC KEY-----";

    const RSA_512: &str = "-----BEGIN PUBLIC KEY-----
MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAMq8TACc7JhtJNdEfgn9j1MvGrPAyEMG
350UeG/HTb/qyFiNllmRB2BuJ8GqtHHbeGeY3/11UeDBlnUqYrhisIkCAwEAAQ==
-----END PUBLIC KEY-----";

    /// The base64 between the armour lines, as Jira's screen shows a key.
    fn bare_base64(pem: &str) -> String {
        pem.lines()
            .filter(|line| !line.starts_with("-----"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn a_subject_public_key_info_pem_is_accepted_as_is() {
        let parsed = ConsumerPublicKey::parse(SPKI).unwrap();
        assert_eq!(parsed.pem, SPKI);
        assert_eq!(parsed.key.n().bits(), 2048);
    }

    #[test]
    fn a_pkcs1_pem_is_accepted_and_normalised_to_subject_public_key_info() {
        let parsed = ConsumerPublicKey::parse(PKCS1).unwrap();
        assert_eq!(parsed, ConsumerPublicKey::parse(SPKI).unwrap());
        assert!(parsed.pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    }

    #[test]
    fn bare_base64_is_accepted_as_jira_shows_it() {
        let expected = ConsumerPublicKey::parse(SPKI).unwrap();
        let wrapped = bare_base64(SPKI);
        assert_eq!(ConsumerPublicKey::parse(&wrapped).unwrap(), expected);
        let one_line = wrapped.replace('\n', "");
        assert_eq!(ConsumerPublicKey::parse(&one_line).unwrap(), expected);
        let spaced = wrapped.replace('\n', " \r\n  ");
        assert_eq!(ConsumerPublicKey::parse(&spaced).unwrap(), expected);
    }

    #[test]
    fn a_certificate_yields_its_subject_public_key() {
        let from_certificate = ConsumerPublicKey::parse(CERTIFICATE).unwrap();
        assert_eq!(
            from_certificate.pem,
            ConsumerPublicKey::parse(SPKI).unwrap().pem
        );
    }

    #[test]
    fn surrounding_whitespace_crlf_and_rewrapping_are_tolerated() {
        let expected = ConsumerPublicKey::parse(SPKI).unwrap();
        let crlf = format!("\n\t  {}  \r\n\n", SPKI.replace('\n', "\r\n"));
        let parsed = ConsumerPublicKey::parse(&crlf).unwrap();
        assert_eq!(parsed, expected);
        assert!(!parsed.pem.contains('\r'));
        let one_line = format!(
            "-----BEGIN PUBLIC KEY-----{}-----END PUBLIC KEY-----",
            bare_base64(SPKI).replace('\n', "")
        );
        assert_eq!(ConsumerPublicKey::parse(&one_line).unwrap(), expected);
    }

    #[test]
    fn a_512_bit_key_is_refused() {
        let error = ConsumerPublicKey::parse(RSA_512).unwrap_err();
        assert!(error.0.contains("512 bits"), "{error}");
    }

    #[test]
    fn an_ec_key_is_refused_as_not_rsa() {
        for text in [EC_KEY, EC_CERTIFICATE] {
            let error = ConsumerPublicKey::parse(text).unwrap_err();
            assert!(error.0.contains("not an RSA key"), "{error}");
        }
    }

    #[test]
    fn a_private_key_is_refused_with_advice() {
        let text = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----";
        let error = ConsumerPublicKey::parse(text).unwrap_err();
        assert!(error.0.contains("private key"), "{error}");
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        let truncated = &SPKI[..SPKI.len() / 2];
        let wrong_end = SPKI.replace("END PUBLIC KEY", "END RSA PUBLIC KEY");
        let two_blocks = format!("{SPKI}{SPKI}");
        let pkcs1_labelled_as_spki = PKCS1.replace("RSA PUBLIC KEY", "PUBLIC KEY");
        let certificate_body = bare_base64(CERTIFICATE);
        let inputs = [
            "",
            "   \n ",
            "hello",
            "AAAA",
            "-----BEGIN",
            "-----BEGIN PUBLIC KEY-----",
            "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----",
            "-----BEGIN FOO-----\nAAAA\n-----END FOO-----",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
            "-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----",
            "-----BEGIN é-----\n-----END é-----",
            truncated,
            &wrong_end,
            &two_blocks,
            &pkcs1_labelled_as_spki,
            &certificate_body,
        ];
        for text in inputs {
            assert!(ConsumerPublicKey::parse(text).is_err(), "{text:?}");
        }
        let huge = "A".repeat(MAX_INPUT_BYTES + 4);
        assert!(ConsumerPublicKey::parse(&huge).is_err());
    }
}
