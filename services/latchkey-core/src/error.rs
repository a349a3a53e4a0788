//! The core's one error type, and the OAuth Problem Reporting words.
//!
//! A protocol failure is a [`Problem`] (the word a consumer sees) plus a detail for the
//! logs. The wire layers map [`AuthorityError`] to a gRPC status or an HTTP response in
//! exactly one place each; nothing in the core knows those codes.

use std::fmt;

/// An `oauth_problem` word (OAuth Problem Reporting, as net.oauth and Jira use it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Problem {
    /// `oauth_version` is present and not `1.0`.
    VersionRejected,
    /// A required parameter is missing.
    ParameterAbsent,
    /// A parameter is malformed, duplicated or not acceptable.
    ParameterRejected,
    /// `oauth_timestamp` lies outside the accepted window.
    TimestampRefused,
    /// `oauth_nonce` was already used by this consumer within the window.
    NonceUsed,
    /// The signature method is unknown or not allowed for this consumer.
    SignatureMethodRejected,
    /// The signature does not verify.
    SignatureInvalid,
    /// No consumer has this key.
    ConsumerKeyUnknown,
    /// The consumer exists but is disabled.
    ConsumerKeyRejected,
    /// The request token was already decided or exchanged.
    TokenUsed,
    /// The token is past its lifetime.
    TokenExpired,
    /// The access token was revoked.
    TokenRevoked,
    /// The token is unknown, belongs to another consumer, or was denied.
    TokenRejected,
    /// The user has not decided yet on this request token.
    PermissionUnknown,
    /// The caller may not do this.
    PermissionDenied,
    /// The user denied access.
    UserRefused,
}

impl Problem {
    /// The word as it goes on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Problem::VersionRejected => "version_rejected",
            Problem::ParameterAbsent => "parameter_absent",
            Problem::ParameterRejected => "parameter_rejected",
            Problem::TimestampRefused => "timestamp_refused",
            Problem::NonceUsed => "nonce_used",
            Problem::SignatureMethodRejected => "signature_method_rejected",
            Problem::SignatureInvalid => "signature_invalid",
            Problem::ConsumerKeyUnknown => "consumer_key_unknown",
            Problem::ConsumerKeyRejected => "consumer_key_rejected",
            Problem::TokenUsed => "token_used",
            Problem::TokenExpired => "token_expired",
            Problem::TokenRevoked => "token_revoked",
            Problem::TokenRejected => "token_rejected",
            Problem::PermissionUnknown => "permission_unknown",
            Problem::PermissionDenied => "permission_denied",
            Problem::UserRefused => "user_refused",
        }
    }

    /// RFC 5849 section 3.2 (and net.oauth) split problems into "bad request" (400:
    /// the request is malformed) and "unauthorized" (401: the credentials are not
    /// good). `true` for the former.
    pub fn is_bad_request(self) -> bool {
        matches!(
            self,
            Problem::VersionRejected
                | Problem::ParameterAbsent
                | Problem::ParameterRejected
                | Problem::TimestampRefused
                | Problem::SignatureMethodRejected
        )
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The details a consumer needs to fix its request, beside the problem word.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProblemAdvice {
    /// `oauth_parameters_absent` or `oauth_parameters_rejected`.
    pub parameters: Vec<String>,
    /// `oauth_acceptable_timestamps`, as `low-high` in seconds.
    pub acceptable_timestamps: Option<String>,
    /// `oauth_acceptable_versions`.
    pub acceptable_versions: Option<String>,
}

/// A failed OAuth protocol check: the word for the consumer, the detail for the logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthFailure {
    /// The problem word.
    pub problem: Problem,
    /// What exactly failed, for logs and operators. Never holds a secret.
    pub detail: String,
    /// Companion parameters.
    pub advice: ProblemAdvice,
}

impl OAuthFailure {
    /// A failure with no companion parameters.
    pub fn new(problem: Problem, detail: impl Into<String>) -> Self {
        Self {
            problem,
            detail: detail.into(),
            advice: ProblemAdvice::default(),
        }
    }

    /// A failure naming the parameters at fault.
    pub fn with_parameters(
        problem: Problem,
        detail: impl Into<String>,
        parameters: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        let advice = ProblemAdvice {
            parameters: parameters.into_iter().map(Into::into).collect(),
            ..ProblemAdvice::default()
        };
        Self {
            problem,
            detail: detail.into(),
            advice,
        }
    }
}

impl OAuthFailure {
    /// The companion parameters of OAuth Problem Reporting that go beside the problem
    /// word, by name: `oauth_parameters_absent` (for `parameter_absent`) or
    /// `oauth_parameters_rejected` (names joined with `&`), `oauth_acceptable_timestamps`
    /// and `oauth_acceptable_versions`. Both wire layers report exactly these.
    pub fn companion_parameters(&self) -> Vec<(&'static str, String)> {
        let advice = &self.advice;
        let mut companions = Vec::new();
        if !advice.parameters.is_empty() {
            let name = if self.problem == Problem::ParameterAbsent {
                "oauth_parameters_absent"
            } else {
                "oauth_parameters_rejected"
            };
            companions.push((name, advice.parameters.join("&")));
        }
        if let Some(range) = &advice.acceptable_timestamps {
            companions.push(("oauth_acceptable_timestamps", range.clone()));
        }
        if let Some(versions) = &advice.acceptable_versions {
            companions.push(("oauth_acceptable_versions", versions.clone()));
        }
        companions
    }
}

/// Every way an authority call can fail. The category decides the wire status; the
/// problem word, where there is one, travels with it.
#[derive(Debug, thiserror::Error)]
pub enum AuthorityError {
    /// A consumer's signed request failed a protocol check (400 or 401 by its word).
    #[error("{}: {}", .0.problem, .0.detail)]
    OAuth(OAuthFailure),
    /// The named thing does not exist.
    #[error("not found: {detail}")]
    NotFound {
        /// The word to report, when the thing is a token.
        problem: Option<Problem>,
        /// What was not found.
        detail: String,
    },
    /// The thing exists but is in the wrong state for this call (a token already
    /// decided, expired, not yet approved).
    #[error("failed precondition: {}", .0.detail)]
    FailedPrecondition(OAuthFailure),
    /// The caller is known but may not do this.
    #[error("permission denied: {detail}")]
    PermissionDenied {
        /// Why.
        detail: String,
    },
    /// The caller did not prove who it is (missing or wrong credential).
    #[error("unauthenticated: {detail}")]
    Unauthenticated {
        /// Why.
        detail: String,
    },
    /// An argument other than an OAuth parameter is malformed.
    #[error("invalid argument {field}: {detail}")]
    InvalidArgument {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// The thing to create exists already.
    #[error("already exists: {detail}")]
    AlreadyExists {
        /// What exists.
        detail: String,
    },
    /// The database cannot be reached; the call may be retried.
    #[error("unavailable: {detail}")]
    Unavailable {
        /// What failed.
        detail: String,
    },
    /// Another application Latchkey fetched from (a consumer-info document) did not
    /// answer as expected; the detail names it and says how, and holds no secret.
    #[error("upstream: {detail}")]
    Upstream {
        /// What failed.
        detail: String,
    },
    /// A bounded resource (the argon2 pool) is full; the call may be retried shortly.
    #[error("saturated: {detail}")]
    Saturated {
        /// What is full.
        detail: String,
    },
    /// An OAuth 2.0 request failed a protocol check; the word goes to the client as
    /// RFC 6749 section 5.2 says.
    #[error("{}: {}", .0.error, .0.detail)]
    OAuth2(crate::oauth2::OAuth2Failure),
    /// A fault on our side. The detail is logged, never sent to the client.
    #[error("internal: {detail}")]
    Internal {
        /// What failed.
        detail: String,
    },
}

impl AuthorityError {
    /// A protocol failure with no companion parameters.
    pub fn oauth(problem: Problem, detail: impl Into<String>) -> Self {
        AuthorityError::OAuth(OAuthFailure::new(problem, detail))
    }

    /// A state failure carrying a problem word.
    pub fn precondition(problem: Problem, detail: impl Into<String>) -> Self {
        AuthorityError::FailedPrecondition(OAuthFailure::new(problem, detail))
    }

    /// A missing thing.
    pub fn not_found(problem: Option<Problem>, detail: impl Into<String>) -> Self {
        AuthorityError::NotFound {
            problem,
            detail: detail.into(),
        }
    }

    /// A refusal.
    pub fn permission_denied(detail: impl Into<String>) -> Self {
        AuthorityError::PermissionDenied {
            detail: detail.into(),
        }
    }

    /// A malformed argument.
    pub fn invalid(field: &'static str, detail: impl Into<String>) -> Self {
        AuthorityError::InvalidArgument {
            field,
            detail: detail.into(),
        }
    }

    /// The problem word this error reports, if any.
    pub fn problem(&self) -> Option<Problem> {
        match self {
            AuthorityError::OAuth(f) | AuthorityError::FailedPrecondition(f) => Some(f.problem),
            AuthorityError::NotFound { problem, .. } => *problem,
            AuthorityError::PermissionDenied { .. } => Some(Problem::PermissionDenied),
            _ => None,
        }
    }
}

impl From<OAuthFailure> for AuthorityError {
    fn from(failure: OAuthFailure) -> Self {
        AuthorityError::OAuth(failure)
    }
}

impl From<crate::oauth2::OAuth2Failure> for AuthorityError {
    fn from(failure: crate::oauth2::OAuth2Failure) -> Self {
        AuthorityError::OAuth2(failure)
    }
}

impl AuthorityError {
    /// An OAuth 2.0 protocol failure.
    pub fn oauth2(error: crate::oauth2::OAuth2Error, detail: impl Into<String>) -> Self {
        AuthorityError::OAuth2(crate::oauth2::OAuth2Failure::new(error, detail))
    }
}

impl From<StoreError> for AuthorityError {
    fn from(error: StoreError) -> Self {
        use StoreError;
        match error {
            StoreError::Unavailable(detail) => AuthorityError::Unavailable { detail },
            StoreError::Conflict(detail) => AuthorityError::AlreadyExists { detail },
            StoreError::Internal(detail) => AuthorityError::Internal { detail },
        }
    }
}

impl From<crate::argon2_pool::Argon2Refusal> for AuthorityError {
    fn from(refusal: crate::argon2_pool::Argon2Refusal) -> Self {
        use crate::argon2_pool::Argon2Refusal;
        match refusal {
            Argon2Refusal::Saturated => AuthorityError::Saturated {
                detail: refusal.to_string(),
            },
            Argon2Refusal::Unfinished(detail) => AuthorityError::Internal { detail },
        }
    }
}

/// Shorthand for results of authority calls.
pub type AuthorityResult<T> = Result<T, AuthorityError>;

/// Why a store call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or timed out; retrying may work.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A unique key already exists (for example a consumer key).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Anything else: a bug or a corrupt row.
    #[error("store failure: {0}")]
    Internal(String),
}
