//! The conversions every table shares: times to milliseconds and back, hashes from
//! bytes, and the error for a row that does not convert. Each protocol's rows convert
//! in its own folder (`oauth1::rows`, and beside each OAuth 2.0 table).
//!
//! This is the only place where times become milliseconds and back. A row that does
//! not convert (a time out of range, an unknown state, a hash of the wrong length)
//! is a corrupt row: it becomes [`StoreError::Internal`], never a panic.

use chrono::{DateTime, Utc};
use latchkey_core::error::StoreError;
use latchkey_core::secret::TokenHash;

/// A time as stored: milliseconds since the Unix epoch.
pub(crate) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// A stored time back as an instant.
pub(crate) fn instant(column: &str, ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::<Utc>::from_timestamp_millis(ms).ok_or_else(|| corrupt(column, "time out of range"))
}

pub(crate) fn optional_instant(
    column: &str,
    ms: Option<i64>,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    ms.map(|ms| instant(column, ms)).transpose()
}

pub(crate) fn hash(column: &str, bytes: &[u8]) -> Result<TokenHash, StoreError> {
    TokenHash::from_slice(bytes).ok_or_else(|| corrupt(column, "hash is not 32 bytes"))
}

pub(crate) fn corrupt(column: &str, why: &str) -> StoreError {
    StoreError::Internal(format!("corrupt row: {column}: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_out_of_range_are_internal_errors_not_panics() {
        assert!(matches!(
            instant("t", i64::MAX),
            Err(StoreError::Internal(_))
        ));
        assert!(matches!(
            instant("t", i64::MIN),
            Err(StoreError::Internal(_))
        ));
        let now = Utc::now();
        let back = instant("t", millis(now)).ok();
        assert_eq!(
            back.map(|t| t.timestamp_millis()),
            Some(now.timestamp_millis())
        );
    }
}
