//! Reading a consumer's HTTP request: parameters from the `Authorization` header, the
//! query and the form body (RFC 5849 section 3.5), the protocol parameters among them,
//! and the signature base string (section 3.4.1). STUB: to be implemented.

use crate::error::OAuthFailure;

/// A consumer's HTTP request as the edge received it.
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    /// The HTTP method, e.g. `POST`.
    pub method: &'a str,
    /// The absolute URL the consumer addressed, with its query.
    pub url: &'a str,
    /// The `Authorization` header value; empty when absent.
    pub authorization: &'a str,
    /// An `application/x-www-form-urlencoded` body; empty when absent.
    pub form_body: &'a str,
}

/// The `oauth_*` parameters, each present at most once across all sources.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProtocolParams {
    /// `oauth_consumer_key`.
    pub consumer_key: String,
    /// `oauth_signature_method`, as sent.
    pub signature_method: String,
    /// `oauth_signature`, decoded.
    pub signature: String,
    /// `oauth_token`, when present.
    pub token: Option<String>,
    /// `oauth_timestamp`, as sent.
    pub timestamp: Option<String>,
    /// `oauth_nonce`.
    pub nonce: Option<String>,
    /// `oauth_version`.
    pub version: Option<String>,
    /// `oauth_callback`, decoded.
    pub callback: Option<String>,
    /// `oauth_verifier`.
    pub verifier: Option<String>,
}

/// A parsed, well-formed OAuth 1.0a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthRequest {
    /// The protocol parameters.
    pub protocol: ProtocolParams,
    /// The signature base string (RFC 5849 section 3.4.1).
    pub base_string: String,
    /// Whether the URL's scheme is https (PLAINTEXT is refused otherwise).
    pub is_https: bool,
}

impl OAuthRequest {
    /// Parses and normalises a request. Fails with `parameter_absent` (naming the
    /// missing parameters), `parameter_rejected` (malformed header, URL or encoding,
    /// or a duplicated `oauth_*` parameter) or `version_rejected`.
    pub fn parse(request: &HttpRequest<'_>) -> Result<OAuthRequest, OAuthFailure> {
        let _ = request;
        Err(OAuthFailure::new(crate::error::Problem::ParameterRejected, "not implemented"))
    }
}
