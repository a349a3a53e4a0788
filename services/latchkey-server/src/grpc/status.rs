//! The one mapping from [`AuthorityError`] to `tonic::Status`.
//!
//! Clients get the gRPC code, a message, and the OAuth problem word (as the `reason`
//! of a standard `google.rpc.ErrorInfo` with domain `oauth`, and as `oauth-problem`
//! metadata). Internal faults are logged under a random id and only the id leaves the
//! server.

use latchkey_core::error::{AuthorityError, OAuthFailure, Problem};
use std::collections::HashMap;
use tonic::metadata::MetadataValue;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The ErrorInfo domain of OAuth problem words.
pub const PROBLEM_DOMAIN: &str = "oauth";

/// The metadata key that repeats the problem word.
pub const PROBLEM_METADATA: &str = "oauth-problem";

/// The ErrorInfo domain of OAuth 2.0 error words (RFC 6749 section 5.2).
pub const OAUTH2_DOMAIN: &str = "oauth2";

/// The metadata key that repeats the OAuth 2.0 error word.
pub const OAUTH2_METADATA: &str = "oauth2-error";

/// How long a saturated caller is told to wait (`google.rpc.RetryInfo`).
const RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// Maps a core error to the status the client sees.
pub fn to_status(error: &AuthorityError) -> Status {
    match error {
        AuthorityError::OAuth(failure) => {
            let code = match failure.problem {
                Problem::PermissionDenied => Code::PermissionDenied,
                Problem::PermissionUnknown => Code::FailedPrecondition,
                problem if problem.is_bad_request() => Code::InvalidArgument,
                _ => Code::Unauthenticated,
            };
            with_problem(code, failure)
        }
        AuthorityError::FailedPrecondition(failure) => {
            with_problem(Code::FailedPrecondition, failure)
        }
        AuthorityError::NotFound {
            problem: Some(problem),
            detail,
        } => with_problem(Code::NotFound, &OAuthFailure::new(*problem, detail.clone())),
        AuthorityError::NotFound {
            problem: None,
            detail,
        } => Status::not_found(detail.clone()),
        AuthorityError::PermissionDenied { detail } => with_problem(
            Code::PermissionDenied,
            &OAuthFailure::new(Problem::PermissionDenied, detail.clone()),
        ),
        AuthorityError::Unauthenticated { detail } => Status::unauthenticated(detail.clone()),
        AuthorityError::InvalidArgument { field, detail } => {
            let details = ErrorDetails::with_bad_request_violation(*field, detail.clone());
            Status::with_error_details(Code::InvalidArgument, format!("{field}: {detail}"), details)
        }
        AuthorityError::OAuth2(failure) => {
            use latchkey_core::oauth2::OAuth2Error as E;
            let code = match failure.error {
                E::InvalidClient | E::InvalidToken => Code::Unauthenticated,
                E::InvalidGrant | E::UnauthorizedClient | E::AccessDenied => Code::PermissionDenied,
                E::InvalidRequest
                | E::InvalidScope
                | E::UnsupportedGrantType
                | E::UnsupportedResponseType
                | E::UnsupportedTokenType => Code::InvalidArgument,
            };
            let word = failure.error.as_str();
            let details = ErrorDetails::with_error_info(word, OAUTH2_DOMAIN, HashMap::new());
            let mut status =
                Status::with_error_details(code, format!("{word}: {}", failure.detail), details);
            status
                .metadata_mut()
                .insert(OAUTH2_METADATA, MetadataValue::from_static(word));
            status
        }
        AuthorityError::AlreadyExists { detail } => Status::already_exists(detail.clone()),
        AuthorityError::Unavailable { .. } => {
            Status::unavailable("the database is unavailable; retry later")
        }
        AuthorityError::Upstream { detail } => Status::unavailable(detail.clone()),
        AuthorityError::Saturated { detail } => {
            let details = ErrorDetails::with_retry_info(Some(RETRY_AFTER));
            Status::with_error_details(
                Code::ResourceExhausted,
                format!("{detail}; retry shortly"),
                details,
            )
        }
        AuthorityError::Internal { detail } => {
            let reference = uuid::Uuid::new_v4();
            tracing::error!(%reference, detail = %detail, "internal error");
            Status::internal(format!("internal error; reference {reference}"))
        }
    }
}

fn with_problem(code: Code, failure: &OAuthFailure) -> Status {
    let metadata: HashMap<String, String> = failure
        .companion_parameters()
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
    let word = failure.problem.as_str();
    let details = ErrorDetails::with_error_info(word, PROBLEM_DOMAIN, metadata);
    let mut status =
        Status::with_error_details(code, format!("{word}: {}", failure.detail), details);
    status
        .metadata_mut()
        .insert(PROBLEM_METADATA, MetadataValue::from_static(word));
    status
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_request_problem_is_invalid_argument_and_an_unauthorized_one_unauthenticated() {
        let status = to_status(&AuthorityError::oauth(Problem::TimestampRefused, "x"));
        assert_eq!(status.code(), Code::InvalidArgument);
        let status = to_status(&AuthorityError::oauth(Problem::NonceUsed, "x"));
        assert_eq!(status.code(), Code::Unauthenticated);
        assert_eq!(
            status.metadata().get(PROBLEM_METADATA).unwrap(),
            "nonce_used"
        );
        assert_eq!(
            status.get_error_details().error_info().unwrap().reason,
            "nonce_used"
        );
    }

    #[test]
    fn an_internal_error_hides_its_detail() {
        let status = to_status(&AuthorityError::Internal {
            detail: "secret path /etc/key".into(),
        });
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("/etc/key"));
    }
}
