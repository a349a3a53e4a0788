//! Signature verification (RFC 5849 section 3.4) for RSA-SHA1, HMAC-SHA1 and
//! PLAINTEXT.
//!
//! Every comparison of secret material is constant-time (`hmac`'s `verify_slice`,
//! `subtle`), so response timing does not reveal how much of a forged signature was
//! right. Every function answers `false` for malformed input (bad base64, a signature
//! of the wrong length) rather than failing: to the caller it is simply a signature
//! that does not verify.
//!
//! RSA-SHA1 runs on `ring` (`RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY`): the
//! method most real consumers sign with, and about six times faster there than in
//! the pure-Rust `rsa`, which still parses and checks the keys (see [`super::keys`]).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use ring::signature::{RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY, RsaPublicKeyComponents};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use super::encoding::encode;
use super::keys::RsaVerifyingKey;

/// Section 3.4.2: the HMAC key, also the PLAINTEXT signature (section 3.4.4).
fn signing_key(consumer_secret: &str, token_secret: &str) -> String {
    format!("{}&{}", encode(consumer_secret), encode(token_secret))
}

/// HMAC takes a key of any length, so this is always `Some`; the `Option` only keeps
/// an impossible failure from becoming a panic (or, worse, a known key).
fn hmac_sha1(base_string: &str, consumer_secret: &str, token_secret: &str) -> Option<Hmac<Sha1>> {
    let key = signing_key(consumer_secret, token_secret);
    let mut mac = Hmac::<Sha1>::new_from_slice(key.as_bytes()).ok()?;
    mac.update(base_string.as_bytes());
    Some(mac)
}

/// Verifies an HMAC-SHA1 `signature` (base64, decoded from the request) over
/// `base_string` keyed with `encode(consumer_secret)&encode(token_secret)`.
pub fn verify_hmac_sha1(
    base_string: &str,
    consumer_secret: &str,
    token_secret: &str,
    signature: &str,
) -> bool {
    let Ok(signature) = STANDARD.decode(signature) else {
        return false;
    };
    hmac_sha1(base_string, consumer_secret, token_secret)
        .is_some_and(|mac| mac.verify_slice(&signature).is_ok())
}

/// Computes an HMAC-SHA1 signature (base64), for the RFC vectors and for tests.
pub fn sign_hmac_sha1(base_string: &str, consumer_secret: &str, token_secret: &str) -> String {
    hmac_sha1(base_string, consumer_secret, token_secret)
        .map(|mac| STANDARD.encode(mac.finalize().into_bytes()))
        .unwrap_or_default()
}

/// Verifies a PLAINTEXT signature: `encode(consumer_secret)&encode(token_secret)`.
pub fn verify_plaintext(consumer_secret: &str, token_secret: &str, signature: &str) -> bool {
    let expected = signing_key(consumer_secret, token_secret);
    bool::from(expected.as_bytes().ct_eq(signature.as_bytes()))
}

/// Verifies an RSA-SHA1 (PKCS#1 v1.5, SHA-1) `signature` (base64) over `base_string`.
pub fn verify_rsa_sha1(base_string: &str, key: &RsaVerifyingKey, signature: &str) -> bool {
    let Ok(signature) = STANDARD.decode(signature) else {
        return false;
    };
    let components = RsaPublicKeyComponents {
        n: key.modulus.as_slice(),
        e: key.exponent.as_slice(),
    };
    // `ring` hashes the base string itself, and refuses a signature whose length is
    // not the modulus size, one not below the modulus, and a key outside 1024..8192
    // bits with an error rather than a panic.
    components
        .verify(
            &RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
            base_string.as_bytes(),
            &signature,
        )
        .is_ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::LazyLock;

    use rsa::pkcs1v15::SigningKey;
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    use rsa::signature::{SignatureEncoding, Signer};
    use rsa::traits::PublicKeyParts;
    use rsa::{Pkcs1v15Sign, RsaPrivateKey};
    use sha1::Digest;

    use super::*;
    use crate::oauth1::ConsumerPublicKey;

    const VECTOR_1_BASE: &str = "POST&https%3A%2F%2Fphotos.example.net%2Finitiate&oauth_callback%3Dhttp%253A%252F%252Fprinter.example.com%252Fready%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3DwIjqoS%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131200";
    const VECTOR_2_BASE: &str = "POST&https%3A%2F%2Fphotos.example.net%2Ftoken&oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3Dwalatlh%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dhh5s93j4hdidpola%26oauth_verifier%3Dhfdp7dh39dks9884";
    const VECTOR_3_BASE: &str = "GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3DchapoH%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131202%26oauth_token%3Dnnch734d00sl2jdk%26size%3Doriginal";
    const CONSUMER_SECRET: &str = "kd94hf93k423kf44";

    /// (base string, token secret, signature) for RFC 5849 section 1.2's three requests.
    const VECTORS: [(&str, &str, &str); 3] = [
        (VECTOR_1_BASE, "", "74KNZJeDHnMBp0EMJ9ZHt/XKycU="),
        (
            VECTOR_2_BASE,
            "hdhd0244k9j7ao03",
            "gKgrFCywp7rO0OXSjdot/IHF7IU=",
        ),
        (
            VECTOR_3_BASE,
            "pfkkdhi9sl3r4s00",
            "MdpQcU8iPSUjWoN/UDMsK2sui9I=",
        ),
    ];

    /// Key generation is slow in debug builds: one key of each size for the module.
    static KEY: LazyLock<RsaPrivateKey> =
        LazyLock::new(|| RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap());
    static KEY_1024: LazyLock<RsaPrivateKey> =
        LazyLock::new(|| RsaPrivateKey::new(&mut rand::thread_rng(), 1024).unwrap());

    /// Signs with `rsa`, so every RSA test checks `ring` against another library.
    fn sign_rsa(key: &RsaPrivateKey, base_string: &str) -> String {
        let signing_key = SigningKey::<Sha1>::new(key.clone());
        STANDARD.encode(signing_key.sign(base_string.as_bytes()).to_bytes())
    }

    fn verifying(key: &RsaPrivateKey) -> RsaVerifyingKey {
        RsaVerifyingKey::from(&key.to_public_key())
    }

    #[test]
    fn hmac_sha1_signs_the_rfc_vectors_as_the_rfc_does() {
        for (base, token_secret, expected) in VECTORS {
            assert_eq!(
                sign_hmac_sha1(base, CONSUMER_SECRET, token_secret),
                expected
            );
        }
    }

    #[test]
    fn hmac_sha1_verifies_the_rfc_vectors() {
        for (base, token_secret, signature) in VECTORS {
            assert!(verify_hmac_sha1(
                base,
                CONSUMER_SECRET,
                token_secret,
                signature
            ));
        }
    }

    #[test]
    fn hmac_sha1_refuses_a_tampered_base_string() {
        for (base, token_secret, signature) in VECTORS {
            let tampered = base.replace("dpf43f3p2l4k3l03", "dpf43f3p2l4k3l04");
            assert!(!verify_hmac_sha1(
                &tampered,
                CONSUMER_SECRET,
                token_secret,
                signature
            ));
        }
    }

    #[test]
    fn hmac_sha1_refuses_the_wrong_secrets() {
        let (base, token_secret, signature) = VECTORS[1];
        assert!(!verify_hmac_sha1(
            base,
            "kd94hf93k423kf45",
            token_secret,
            signature
        ));
        assert!(!verify_hmac_sha1(base, CONSUMER_SECRET, "", signature));
    }

    #[test]
    fn hmac_sha1_refuses_bad_base64_and_truncated_signatures() {
        for signature in [
            "",
            "not base64!",
            "74KNZJeDHnMBp0EMJ9ZHt/XKycU",
            "74KNZJeDHnMBp0EM",
        ] {
            assert!(
                !verify_hmac_sha1(VECTOR_1_BASE, CONSUMER_SECRET, "", signature),
                "{signature}"
            );
        }
    }

    #[test]
    fn hmac_sha1_key_encodes_both_secrets() {
        // With reserved characters in the secrets the key is encode(cs)&encode(ts).
        let manual = {
            let mut mac = Hmac::<Sha1>::new_from_slice(b"a%26b&c%20d").unwrap();
            mac.update(b"base");
            STANDARD.encode(mac.finalize().into_bytes())
        };
        assert_eq!(sign_hmac_sha1("base", "a&b", "c d"), manual);
    }

    #[test]
    fn plaintext_accepts_the_encoded_secrets() {
        assert!(verify_plaintext(
            "kd94hf93k423kf44",
            "",
            "kd94hf93k423kf44&"
        ));
        assert!(verify_plaintext("a&b", "c d", "a%26b&c%20d"));
    }

    #[test]
    fn plaintext_refuses_anything_else() {
        assert!(!verify_plaintext("secret", "token", "secret&tokem"));
        assert!(!verify_plaintext("secret", "token", "secret&"));
        assert!(!verify_plaintext("secret", "", ""));
        assert!(!verify_plaintext("a&b", "", "a&b&"));
    }

    #[test]
    fn rsa_sha1_verifies_a_signature_made_with_the_matching_key() {
        let signature = sign_rsa(&KEY, VECTOR_3_BASE);
        assert!(verify_rsa_sha1(VECTOR_3_BASE, &verifying(&KEY), &signature));
    }

    #[test]
    fn rsa_sha1_verifies_with_a_1024_bit_key_the_smallest_accepted() {
        let signature = sign_rsa(&KEY_1024, VECTOR_3_BASE);
        assert!(verify_rsa_sha1(
            VECTOR_3_BASE,
            &verifying(&KEY_1024),
            &signature
        ));
    }

    #[test]
    fn rsa_sha1_verifies_with_a_key_parsed_from_pem() {
        let pem = KEY
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        let parsed = ConsumerPublicKey::parse(&pem).unwrap();
        let signature = sign_rsa(&KEY, VECTOR_1_BASE);
        assert!(verify_rsa_sha1(
            VECTOR_1_BASE,
            &RsaVerifyingKey::from(&parsed.key),
            &signature
        ));
    }

    #[test]
    fn rsa_sha1_refuses_a_different_base_string() {
        let signature = sign_rsa(&KEY, VECTOR_3_BASE);
        assert!(!verify_rsa_sha1(
            VECTOR_2_BASE,
            &verifying(&KEY),
            &signature
        ));
    }

    #[test]
    fn rsa_sha1_refuses_another_keys_signature() {
        let signature = sign_rsa(&KEY, VECTOR_3_BASE);
        assert!(!verify_rsa_sha1(
            VECTOR_3_BASE,
            &verifying(&KEY_1024),
            &signature
        ));
    }

    #[test]
    fn rsa_sha1_refuses_a_signature_without_the_digest_info() {
        // The SHA-1 digest padded but not wrapped in its DigestInfo: not PKCS#1 v1.5.
        let digest = Sha1::digest(VECTOR_3_BASE.as_bytes());
        let unprefixed = KEY.sign(Pkcs1v15Sign::new_unprefixed(), &digest).unwrap();
        let signature = STANDARD.encode(unprefixed);
        assert!(!verify_rsa_sha1(
            VECTOR_3_BASE,
            &verifying(&KEY),
            &signature
        ));
    }

    #[test]
    fn rsa_sha1_refuses_a_signature_with_one_bit_flipped() {
        let mut signature = STANDARD.decode(sign_rsa(&KEY, VECTOR_3_BASE)).unwrap();
        for index in [0, signature.len() / 2, signature.len() - 1] {
            signature[index] ^= 1;
            let flipped = STANDARD.encode(&signature);
            assert!(!verify_rsa_sha1(VECTOR_3_BASE, &verifying(&KEY), &flipped));
            signature[index] ^= 1;
        }
    }

    #[test]
    fn rsa_sha1_refuses_garbage_without_panicking() {
        let key = verifying(&KEY);
        let too_long = STANDARD.encode([0xFF; 512]);
        let one_short = STANDARD.encode([0x01; 255]);
        let all_ones = STANDARD.encode([0xFF; 256]);
        let zeros = STANDARD.encode([0; 256]);
        let modulus = STANDARD.encode(KEY.n().to_bytes_be());
        for signature in [
            "",
            "!!",
            "AAAA",
            too_long.as_str(),
            one_short.as_str(),
            all_ones.as_str(),
            zeros.as_str(),
            modulus.as_str(),
        ] {
            assert!(!verify_rsa_sha1(VECTOR_3_BASE, &key, signature));
        }
    }
}
