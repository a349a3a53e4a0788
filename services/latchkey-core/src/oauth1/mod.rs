//! OAuth 1.0a (RFC 5849) as Jira's application links speak it: Latchkey is the
//! service provider.
//!
//! - On the wire, pure functions: reading a consumer's request ([`request`],
//!   [`encoding`]), its signature ([`signature`]) and its key ([`keys`]).
//! - Rows, storage contract and policy: [`records`], [`store`], [`policy`]; what a
//!   consumer may register and call back to: [`consumer_rules`].
//! - Use cases, as methods of [`crate::authority::Authority`]: the pipeline every
//!   signed request goes through ([`verify`]); the three legs ([`dance`]); validation,
//!   revocation and a user's grants ([`access`]); what a consumer's signed revocation
//!   must say ([`consumer_revoke`]); consumer administration ([`consumers`]).

pub mod access;
pub mod consumer_info;
pub mod consumer_revoke;
pub mod consumer_rules;
pub mod consumers;
pub mod dance;
pub mod encoding;
pub mod keys;
pub(crate) mod opened_secrets;
pub mod policy;
pub mod records;
pub mod request;
pub mod signature;
pub mod store;
pub mod verify;

#[cfg(test)]
mod tests;

pub use keys::{ConsumerPublicKey, KeyError, RsaVerifyingKey};
pub use request::{HttpRequest, OAuthRequest, ProtocolParams};

/// How a request is signed (RFC 5849 section 3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureMethod {
    /// PKCS#1 v1.5 over SHA-1 with the consumer's RSA key, as Jira application links use.
    RsaSha1,
    /// HMAC-SHA1 keyed with the consumer secret and token secret.
    HmacSha1,
    /// The secrets themselves; only acceptable over TLS.
    Plaintext,
}

impl SignatureMethod {
    /// The `oauth_signature_method` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureMethod::RsaSha1 => "RSA-SHA1",
            SignatureMethod::HmacSha1 => "HMAC-SHA1",
            SignatureMethod::Plaintext => "PLAINTEXT",
        }
    }

    /// Parses the `oauth_signature_method` spelling (case-sensitive, as RFC 5849 names
    /// them).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "RSA-SHA1" => Some(SignatureMethod::RsaSha1),
            "HMAC-SHA1" => Some(SignatureMethod::HmacSha1),
            "PLAINTEXT" => Some(SignatureMethod::Plaintext),
            _ => None,
        }
    }
}
