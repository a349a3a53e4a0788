//! The bounds every policy value shares, and the error for one out of them. The
//! protocols' policies ([`crate::oauth1::policy`], [`crate::oauth2::policy`]) and the
//! sweeper's settings check their values with these; the configuration only reads
//! the verdict.

use chrono::Duration;

/// No lifetime or retention may be longer: past a century, a value is a typo.
pub const LONGEST_LIFETIME: Duration = Duration::days(100 * 365);

/// A policy value out of its bounds, naming the value as the policy does (`section`
/// is `oauth1`, `oauth2` or `sweeper`; `field` the field of its policy struct).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{section}.{field}: {rule}")]
pub struct PolicyError {
    /// Whose policy: `oauth1`, `oauth2` or `sweeper`.
    pub section: &'static str,
    /// The field.
    pub field: &'static str,
    /// Whether the field is a duration (configured in whole seconds).
    pub is_duration: bool,
    /// The bound it broke, in words.
    pub rule: String,
}

/// Refuses `value` unless it is above zero and at most `most` (named `most_name`).
pub(crate) fn check_lifetime(
    section: &'static str,
    field: &'static str,
    value: Duration,
    (most_name, most): (&str, Duration),
) -> Result<(), PolicyError> {
    if value > Duration::zero() && value <= most {
        return Ok(());
    }
    Err(PolicyError {
        section,
        field,
        is_duration: true,
        rule: format!(
            "must be above 0 and at most {most_name} ({} seconds), not {} seconds",
            most.num_seconds(),
            value.num_seconds()
        ),
    })
}

/// [`LONGEST_LIFETIME`], named for [`check_lifetime`].
pub(crate) const A_CENTURY: (&str, Duration) = ("a century", LONGEST_LIFETIME);
