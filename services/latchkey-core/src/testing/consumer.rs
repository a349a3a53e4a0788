//! A consumer that signs its requests with `oauth1-request` at the test clock's time.

use crate::clock::{Clock, ManualClock};
use crate::oauth1::HttpRequest;
use oauth::signature_method::SignatureMethod;
use oauth1_request as oauth;
use rsa::RsaPrivateKey;
use std::num::NonZeroU64;
use std::sync::Arc;

/// How a consumer signs.
#[derive(Clone)]
pub(crate) enum Signer {
    /// HMAC-SHA1 with this consumer secret.
    HmacSha1(String),
    /// RSA-SHA1 with this private key.
    RsaSha1(Box<RsaPrivateKey>),
    /// PLAINTEXT with this consumer secret.
    Plaintext(String),
}

/// What a signed request carries beyond the consumer key.
#[derive(Default, Clone)]
pub(crate) struct Extras<'a> {
    /// `oauth_token` and the token secret that keys the signature.
    pub(crate) token: Option<(&'a str, &'a str)>,
    /// `oauth_callback`.
    pub(crate) callback: Option<&'a str>,
    /// `oauth_verifier`.
    pub(crate) verifier: Option<&'a str>,
    /// Replaces the random nonce (to replay one).
    pub(crate) nonce: Option<&'a str>,
    /// Replaces the timestamp, which otherwise is the test clock's.
    pub(crate) timestamp: Option<u64>,
    /// Parameters signed and sent as an `application/x-www-form-urlencoded` body.
    pub(crate) form: Vec<(&'a str, &'a str)>,
}

/// A signed request, owned; [`SignedHttp::http`] borrows it as the edge passes it on.
#[derive(Debug, Clone)]
pub(crate) struct SignedHttp {
    pub(crate) method: String,
    pub(crate) url: String,
    pub(crate) authorization: String,
    pub(crate) form_body: String,
}

impl SignedHttp {
    pub(crate) fn http(&self) -> HttpRequest<'_> {
        HttpRequest {
            method: &self.method,
            url: &self.url,
            authorization: &self.authorization,
            form_body: &self.form_body,
        }
    }
}

/// Where the dance's legs and the resource requests are addressed. The core reads
/// whatever URL the edge received; only a revocation's URL is checked.
pub(crate) const REQUEST_TOKEN_URL: &str =
    "https://jira.example.com/plugins/servlet/oauth/request-token";
pub(crate) const ACCESS_TOKEN_URL: &str =
    "https://jira.example.com/plugins/servlet/oauth/access-token";
pub(crate) const RESOURCE_URL: &str = "https://jira.example.com/rest/api/2/myself";

/// A registered consumer and how it signs.
#[derive(Clone)]
pub(crate) struct TestConsumer {
    pub(crate) key: String,
    pub(crate) signer: Signer,
    pub(crate) clock: Arc<ManualClock>,
}

impl TestConsumer {
    /// A request signed as `oauth1-request` signs it.
    pub(crate) fn sign(&self, method: &str, url: &str, extras: &Extras<'_>) -> SignedHttp {
        let authorization = match &self.signer {
            Signer::HmacSha1(secret) => self.header(secret, oauth::HMAC_SHA1, method, url, extras),
            Signer::RsaSha1(key) => self.header(
                "",
                oauth::Rsa09Sha1::new((**key).clone()),
                method,
                url,
                extras,
            ),
            Signer::Plaintext(secret) => self.header(secret, oauth::PLAINTEXT, method, url, extras),
        };
        let form_body = if extras.form.is_empty() {
            String::new()
        } else {
            oauth::to_form(&oauth::ParameterList::new(extras.form.clone()))
        };
        SignedHttp {
            method: method.to_owned(),
            url: url.to_owned(),
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
            .unwrap_or_else(|| u64::try_from(self.clock.now().timestamp()).unwrap_or(1));
        builder.timestamp(NonZeroU64::new(timestamp));
        builder.authorize(method, url, &oauth::ParameterList::new(extras.form.clone()))
    }

    /// Leg 1: asks for a request token.
    pub(crate) fn request_token(&self, callback: &str) -> SignedHttp {
        self.sign(
            "POST",
            REQUEST_TOKEN_URL,
            &Extras {
                callback: Some(callback),
                ..Extras::default()
            },
        )
    }

    /// Leg 3: exchanges a request token and its verifier.
    pub(crate) fn exchange(&self, token: &str, token_secret: &str, verifier: &str) -> SignedHttp {
        self.sign(
            "POST",
            ACCESS_TOKEN_URL,
            &Extras {
                token: Some((token, token_secret)),
                verifier: Some(verifier),
                ..Extras::default()
            },
        )
    }

    /// A resource request signed with an access token.
    pub(crate) fn resource(&self, token: &str, token_secret: &str) -> SignedHttp {
        self.sign(
            "GET",
            RESOURCE_URL,
            &Extras {
                token: Some((token, token_secret)),
                ..Extras::default()
            },
        )
    }

    /// A revocation of what `target` names, signed as one: a POST to `revoke_url`
    /// with the target in the form body.
    pub(crate) fn revocation(&self, revoke_url: &str, target: &[(&str, &str)]) -> SignedHttp {
        self.sign(
            "POST",
            revoke_url,
            &Extras {
                form: target.to_vec(),
                ..Extras::default()
            },
        )
    }
}
