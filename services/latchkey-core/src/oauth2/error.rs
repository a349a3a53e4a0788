//! The OAuth 2.0 error words (RFC 6749 sections 4.1.2.1 and 5.2, RFC 6750 section
//! 3.1, RFC 7009 section 2.2.1). A failure is a word for the client and a detail for
//! the logs; the wire layers map it in their one error mapping each.

use std::fmt;

/// An OAuth 2.0 `error` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OAuth2Error {
    /// A parameter is missing, repeated, malformed or not supported.
    InvalidRequest,
    /// Client authentication failed (unknown client, wrong or missing secret).
    InvalidClient,
    /// The code or refresh token is invalid, expired, revoked, reused, or was issued
    /// to another client or for another redirect URI; or the PKCE verifier is wrong.
    InvalidGrant,
    /// The client may not use this grant or act on this token.
    UnauthorizedClient,
    /// The grant type is not one this server supports.
    UnsupportedGrantType,
    /// A requested scope is unknown or not allowed for this client.
    InvalidScope,
    /// The user denied the request.
    AccessDenied,
    /// The response type is not `code`.
    UnsupportedResponseType,
    /// The bearer access token is unknown, expired or revoked (RFC 6750).
    InvalidToken,
    /// The revocation request names a token type this server does not revoke.
    UnsupportedTokenType,
}

impl OAuth2Error {
    /// The word as it goes on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            OAuth2Error::InvalidRequest => "invalid_request",
            OAuth2Error::InvalidClient => "invalid_client",
            OAuth2Error::InvalidGrant => "invalid_grant",
            OAuth2Error::UnauthorizedClient => "unauthorized_client",
            OAuth2Error::UnsupportedGrantType => "unsupported_grant_type",
            OAuth2Error::InvalidScope => "invalid_scope",
            OAuth2Error::AccessDenied => "access_denied",
            OAuth2Error::UnsupportedResponseType => "unsupported_response_type",
            OAuth2Error::InvalidToken => "invalid_token",
            OAuth2Error::UnsupportedTokenType => "unsupported_token_type",
        }
    }
}

impl fmt::Display for OAuth2Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed OAuth 2.0 check: the word for the client, the detail for the logs and the
/// `error_description`. The detail never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuth2Failure {
    /// The error word.
    pub error: OAuth2Error,
    /// What exactly failed.
    pub detail: String,
}

impl OAuth2Failure {
    /// A failure.
    pub fn new(error: OAuth2Error, detail: impl Into<String>) -> Self {
        Self {
            error,
            detail: detail.into(),
        }
    }
}
