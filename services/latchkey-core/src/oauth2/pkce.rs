//! Proof Key for Code Exchange (RFC 7636). `S256` is always accepted; `plain` only when
//! the policy allows it, because it protects nothing once the authorization request
//! leaks (RFC 9700 section 2.1.1).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A code challenge method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkceMethod {
    /// `BASE64URL(SHA256(verifier)) == challenge`.
    S256,
    /// `verifier == challenge`.
    Plain,
}

impl PkceMethod {
    /// The wire and stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PkceMethod::S256 => "S256",
            PkceMethod::Plain => "plain",
        }
    }

    /// Parses a spelling; the empty method is `plain` (RFC 7636 section 4.3).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "S256" => Some(PkceMethod::S256),
            "plain" | "" => Some(PkceMethod::Plain),
            _ => None,
        }
    }
}

/// Whether `value` has the syntax of a verifier or challenge: 43 to 128 characters of
/// `[A-Za-z0-9-._~]` (RFC 7636 sections 4.1 and 4.2).
pub fn well_formed(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The S256 challenge of a verifier.
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether `verifier` answers `challenge` under `method`, compared in constant time.
pub fn verifies(method: PkceMethod, challenge: &str, verifier: &str) -> bool {
    if !well_formed(verifier) {
        return false;
    }
    let expected = match method {
        PkceMethod::S256 => s256_challenge(verifier),
        PkceMethod::Plain => verifier.to_owned(),
    };
    expected.len() == challenge.len() && bool::from(expected.as_bytes().ct_eq(challenge.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_7636_appendix_b_example_verifies() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert_eq!(s256_challenge(verifier), challenge);
        assert!(verifies(PkceMethod::S256, challenge, verifier));
        assert!(!verifies(
            PkceMethod::S256,
            challenge,
            &verifier.replace('d', "e")
        ));
        assert!(!verifies(PkceMethod::Plain, challenge, verifier));
    }

    #[test]
    fn short_or_oddly_spelled_verifiers_are_refused() {
        assert!(!well_formed("short"));
        assert!(!well_formed(&"a".repeat(129)));
        assert!(!well_formed(&format!("{}!", "a".repeat(43))));
        assert!(well_formed(&"a~._-".repeat(10)));
    }
}
