//! A consumer that signs requests with `oauth1-request`, an OAuth 1.0a client
//! library written independently of Latchkey, so the tests prove interoperability
//! rather than agreement with ourselves.

use latchkey_api::v1 as pb;
use latchkey_core::clock::{Clock, ManualClock};
use oauth::signature_method::SignatureMethod;
use oauth1_request as oauth;
use rsa::RsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use std::num::NonZeroU64;
use std::sync::Arc;

/// The private key matching `fixtures/consumer-cert.pem`.
pub fn fixture_private_key() -> RsaPrivateKey {
    RsaPrivateKey::from_pkcs8_pem(include_str!("../fixtures/consumer-key.pem")).unwrap()
}

/// The self-signed certificate a consumer can be registered from.
pub const FIXTURE_CERTIFICATE: &str = include_str!("../fixtures/consumer-cert.pem");

#[derive(Clone)]
#[allow(clippy::large_enum_variant)] // a test helper; size does not matter
pub enum Signer {
    HmacSha1(String),
    RsaSha1(RsaPrivateKey),
    Plaintext(String),
}

/// What a signed request carries beyond the consumer's own parameters.
#[derive(Default, Clone)]
pub struct Extras<'a> {
    pub token: Option<(&'a str, &'a str)>,
    pub callback: Option<&'a str>,
    pub verifier: Option<&'a str>,
    /// Overrides the random nonce (for replays).
    pub nonce: Option<&'a str>,
    /// Overrides the timestamp, which otherwise follows the server's test clock.
    pub timestamp: Option<u64>,
    /// Query parameters of a resource request, signed and appended to the URL.
    pub query: Vec<(&'a str, &'a str)>,
    /// Parameters signed and sent as an `application/x-www-form-urlencoded` body.
    pub form: Vec<(&'a str, &'a str)>,
}

/// A consumer with its credentials, signing at the test server's clock.
#[derive(Clone)]
pub struct TestConsumer {
    pub key: String,
    pub signer: Signer,
    pub clock: Arc<ManualClock>,
}

pub const REQUEST_TOKEN_URL: &str = "https://jira.example.com/plugins/servlet/oauth/request-token";
pub const ACCESS_TOKEN_URL: &str = "https://jira.example.com/plugins/servlet/oauth/access-token";
pub const RESOURCE_URL: &str = "https://jira.example.com/rest/api/2/myself";
/// Where a consumer's revocation is addressed: the test servers' `public_base_url`
/// and Latchkey's revoke path.
pub const REVOKE_URL: &str = "https://auth.example.com/plugins/servlet/oauth/revoke";

impl TestConsumer {
    pub fn new(key: &str, signer: Signer, clock: Arc<ManualClock>) -> Self {
        Self {
            key: key.to_owned(),
            signer,
            clock,
        }
    }

    /// A `SignedRequest` as an edge would forward it: method, URL, Authorization and
    /// the form body.
    pub fn sign(&self, method: &str, url: &str, extras: &Extras<'_>) -> pb::SignedRequest {
        let authorization = match &self.signer {
            Signer::HmacSha1(secret) => self.header(secret, oauth::HMAC_SHA1, method, url, extras),
            Signer::RsaSha1(key) => {
                self.header("", oauth::Rsa09Sha1::new(key.clone()), method, url, extras)
            }
            Signer::Plaintext(secret) => self.header(secret, oauth::PLAINTEXT, method, url, extras),
        };
        let mut query: Vec<_> = extras.query.clone();
        query.sort();
        let url = if query.is_empty() {
            url.to_owned()
        } else {
            format!(
                "{url}?{}",
                oauth::to_form(&oauth::ParameterList::new(query))
            )
        };
        let form_body = if extras.form.is_empty() {
            String::new()
        } else {
            oauth::to_form(&oauth::ParameterList::new(extras.form.clone()))
        };
        pb::SignedRequest {
            method: method.into(),
            url,
            authorization,
            form_body,
        }
    }

    fn header<SM: SignatureMethod + Clone>(
        &self,
        secret: &str,
        signature_method: SM,
        method: &str,
        url: &str,
        extras: &Extras<'_>,
    ) -> String {
        let mut builder: oauth::Builder<'_, SM, &str> = oauth::Builder::new(
            oauth::Credentials::new(self.key.as_str(), secret),
            signature_method,
        );
        if let Some((token, token_secret)) = extras.token {
            builder.token(Some(oauth::Credentials::new(token, token_secret)));
        }
        builder
            .callback(extras.callback)
            .verifier(extras.verifier)
            .nonce(extras.nonce);
        let timestamp = extras
            .timestamp
            .unwrap_or_else(|| self.clock.now().timestamp() as u64);
        builder.timestamp(NonZeroU64::new(timestamp));
        // Query and form parameters alike go into the signature base string.
        let signed: Vec<_> = extras.query.iter().chain(&extras.form).copied().collect();
        builder.authorize(method, url, &oauth::ParameterList::new(signed))
    }

    /// Leg 1.
    pub fn request_token(&self, callback: &str) -> pb::IssueRequestTokenRequest {
        pb::IssueRequestTokenRequest {
            request: Some(self.sign(
                "POST",
                REQUEST_TOKEN_URL,
                &Extras {
                    callback: Some(callback),
                    ..Extras::default()
                },
            )),
        }
    }

    /// Leg 3.
    pub fn exchange(
        &self,
        token: &str,
        token_secret: &str,
        verifier: &str,
    ) -> pb::ExchangeTokenRequest {
        pb::ExchangeTokenRequest {
            request: Some(pb::exchange_token_request::Request::Signed(self.sign(
                "POST",
                ACCESS_TOKEN_URL,
                &Extras {
                    token: Some((token, token_secret)),
                    verifier: Some(verifier),
                    ..Extras::default()
                },
            ))),
        }
    }

    /// A revocation of what `target` names (`token_id`, `consumer_key`, or `user_id`
    /// with `consumer_key`), signed as one: a POST to the revoke URL with the target in
    /// the form body.
    pub fn revocation(&self, target: &[(&str, &str)]) -> pb::SignedRequest {
        self.sign(
            "POST",
            REVOKE_URL,
            &Extras {
                form: target.to_vec(),
                ..Extras::default()
            },
        )
    }

    /// A resource request signed with an access token.
    pub fn resource(&self, token: &str, token_secret: &str) -> pb::ValidateAccessRequest {
        pb::ValidateAccessRequest {
            request: Some(pb::validate_access_request::Request::Signed(self.sign(
                "GET",
                RESOURCE_URL,
                &Extras {
                    token: Some((token, token_secret)),
                    query: vec![("expand", "groups")],
                    ..Extras::default()
                },
            ))),
        }
    }
}
