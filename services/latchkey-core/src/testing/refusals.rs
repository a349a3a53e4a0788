//! What a refused call's error says, for assertions: each helper panics, naming what
//! came instead, unless the call failed in its category.
#![allow(clippy::panic)]

use crate::error::{AuthorityError, AuthorityResult, OAuthFailure, Problem};
use crate::oauth2::OAuth2Error;
use std::fmt::Debug;

/// The protocol failure a signed request was refused with.
#[track_caller]
pub(crate) fn oauth_failure<T: Debug>(result: AuthorityResult<T>) -> OAuthFailure {
    match result {
        Err(AuthorityError::OAuth(failure)) => failure,
        other => panic!("expected an OAuth 1.0a protocol failure, got {other:?}"),
    }
}

/// The word of a signed request's refusal.
#[track_caller]
pub(crate) fn oauth_problem<T: Debug>(result: AuthorityResult<T>) -> Problem {
    oauth_failure(result).problem
}

/// The word of a refusal for the token's state.
#[track_caller]
pub(crate) fn precondition<T: Debug>(result: AuthorityResult<T>) -> Problem {
    match result {
        Err(AuthorityError::FailedPrecondition(failure)) => failure.problem,
        other => panic!("expected a failed precondition, got {other:?}"),
    }
}

/// The OAuth 2.0 error word of a refusal.
#[track_caller]
pub(crate) fn oauth2_error<T: Debug>(result: AuthorityResult<T>) -> OAuth2Error {
    match result {
        Err(AuthorityError::OAuth2(failure)) => failure.error,
        other => panic!("expected an OAuth 2.0 failure, got {other:?}"),
    }
}

/// The field an invalid argument names.
#[track_caller]
pub(crate) fn invalid_field<T: Debug>(result: AuthorityResult<T>) -> &'static str {
    match result {
        Err(AuthorityError::InvalidArgument { field, .. }) => field,
        other => panic!("expected an invalid argument, got {other:?}"),
    }
}

/// Whether the call was refused for a missing or wrong credential.
pub(crate) fn is_unauthenticated<T>(result: &AuthorityResult<T>) -> bool {
    matches!(result, Err(AuthorityError::Unauthenticated { .. }))
}

/// Whether the call was refused to a known caller.
pub(crate) fn is_permission_denied<T>(result: &AuthorityResult<T>) -> bool {
    matches!(result, Err(AuthorityError::PermissionDenied { .. }))
}

/// Whether the call found nothing by that name.
pub(crate) fn is_not_found<T>(result: &AuthorityResult<T>) -> bool {
    matches!(result, Err(AuthorityError::NotFound { .. }))
}
