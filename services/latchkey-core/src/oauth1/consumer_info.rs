//! The consumer-info document an application publishes about itself as a consumer,
//! which Jira's "Consumers" tab reads to add a consumer by URL:
//! `GET <base>/plugins/servlet/oauth/consumer-info` answers
//!
//! ```xml
//! <consumer>
//!   <key>jira:1234567</key>
//!   <name>Jira</name>
//!   <description>...</description>
//!   <publicKey>MIIBIjANBgkq...</publicKey>
//! </consumer>
//! ```
//!
//! with the public key as base64 DER SubjectPublicKeyInfo, without PEM armour. Fetching
//! the document is the server's business (it bounds the fetch); this module only reads
//! it, and turns it into a registration that [`crate::authority::Authority::register_consumer`]
//! checks like any other (key rules, a key of at least 1024 bits).

use super::consumers::{ConsumerDraft, SharedSecretChoice};
use super::keys::ConsumerPublicKey;

/// Where an application publishes its consumer info, under its base URL.
pub const CONSUMER_INFO_PATH: &str = "/plugins/servlet/oauth/consumer-info";

/// The most bytes of a consumer-info document read: a 4096-bit key and generous text.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// What the document says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerInfo {
    /// `<key>`: the consumer key.
    pub key: String,
    /// `<name>`.
    pub name: String,
    /// `<description>`, empty when absent.
    pub description: String,
    /// `<publicKey>`, normalised to SubjectPublicKeyInfo PEM.
    pub public_key_pem: String,
}

/// Why a document is unusable, in words for the administrator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the consumer-info document {0}")]
pub struct ConsumerInfoError(String);

impl ConsumerInfo {
    /// Reads a consumer-info document. Refuses anything that is not one: no
    /// `<consumer>` root, a missing or empty key, name or public key, or a public key
    /// that does not parse or is under 1024 bits.
    pub fn parse(document: &str) -> Result<ConsumerInfo, ConsumerInfoError> {
        if document.len() > MAX_DOCUMENT_BYTES {
            return Err(ConsumerInfoError(format!(
                "is larger than {MAX_DOCUMENT_BYTES} bytes"
            )));
        }
        let parsed = roxmltree::Document::parse(document)
            .map_err(|e| ConsumerInfoError(format!("is not well-formed XML: {e}")))?;
        let root = parsed.root_element();
        if root.tag_name().name() != "consumer" {
            return Err(ConsumerInfoError(format!(
                "has <{}> where <consumer> was expected",
                root.tag_name().name()
            )));
        }
        let field = |name: &str| -> Option<String> {
            root.children()
                .find(|node| node.is_element() && node.tag_name().name() == name)
                .map(|node| node.text().unwrap_or("").trim().to_owned())
        };
        let required = |name: &str| {
            field(name)
                .filter(|value| !value.is_empty())
                .ok_or_else(|| ConsumerInfoError(format!("has no <{name}>")))
        };
        let key = required("key")?;
        let name = required("name")?;
        let public_key = required("publicKey")?;
        let public_key_pem = ConsumerPublicKey::parse(&public_key)
            .map_err(|e| ConsumerInfoError(format!("has an unusable <publicKey>: {e}")))?
            .pem;
        Ok(ConsumerInfo {
            key,
            name,
            description: field("description").unwrap_or_default(),
            public_key_pem,
        })
    }

    /// The registration this document asks for: an RSA-SHA1 consumer with its key,
    /// name, description and public key, and no shared secret.
    pub fn draft(self) -> ConsumerDraft {
        ConsumerDraft {
            key: self.key,
            name: self.name,
            description: self.description,
            public_key: Some(self.public_key_pem),
            shared_secret: SharedSecretChoice::None,
            ..ConsumerDraft::default()
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SPKI: &str = include_str!("../../tests/fixtures/oauth1-rsa-certificate-key.pem");

    /// The fixture key as the document carries it: base64 DER, no armour.
    fn bare_key() -> String {
        SPKI.lines()
            .filter(|line| !line.starts_with("-----"))
            .collect()
    }

    fn document(body: &str) -> String {
        format!("<?xml version=\"1.0\"?>\n<consumer>{body}</consumer>")
    }

    #[test]
    fn a_jira_document_becomes_an_rsa_consumer_registration() {
        let xml = document(&format!(
            "<key>jira:1234567</key><name>Jira</name>\
             <description>Jira &amp; friends</description><publicKey>{}</publicKey>",
            bare_key()
        ));
        let info = ConsumerInfo::parse(&xml).unwrap();
        assert_eq!(info.key, "jira:1234567");
        assert_eq!(info.description, "Jira & friends");
        assert!(
            info.public_key_pem
                .starts_with("-----BEGIN PUBLIC KEY-----")
        );
        let draft = info.draft();
        assert_eq!(
            (draft.key.as_str(), draft.name.as_str()),
            ("jira:1234567", "Jira")
        );
        assert!(matches!(draft.shared_secret, SharedSecretChoice::None));
    }

    #[test]
    fn anything_else_is_refused_with_what_is_wrong() {
        let key = bare_key();
        let cases = [
            ("not xml <", "well-formed"),
            ("<application><key>k</key></application>", "<consumer>"),
            (
                &document("<name>Jira</name><publicKey>x</publicKey>")[..],
                "<key>",
            ),
            (
                &document("<key>k</key><publicKey>x</publicKey>")[..],
                "<name>",
            ),
            (&document("<key>k</key><name>n</name>")[..], "<publicKey>"),
            (
                &document("<key>k</key><name>n</name><publicKey>bm90IGEga2V5</publicKey>")[..],
                "unusable",
            ),
        ];
        for (xml, expected) in cases {
            let error = ConsumerInfo::parse(xml).unwrap_err().to_string();
            assert!(error.contains(expected), "{xml}: {error}");
        }
        let huge = document(&format!(
            "<key>k</key><name>n</name><publicKey>{key}</publicKey><description>{}</description>",
            "x".repeat(MAX_DOCUMENT_BYTES)
        ));
        assert!(
            ConsumerInfo::parse(&huge)
                .unwrap_err()
                .to_string()
                .contains("larger")
        );
    }
}
