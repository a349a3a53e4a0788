//! Scopes (RFC 6749 section 3.3): space-delimited, case-sensitive tokens of
//! `%x21 / %x23-5B / %x5D-7E`. Kept in the order first given, without duplicates.

/// Whether `token` is a well-formed scope token.
pub fn valid_token(token: &str) -> bool {
    !token.is_empty()
        && token
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// Splits a `scope` parameter; `None` when a token is malformed.
pub fn parse(text: &str) -> Option<Vec<String>> {
    let mut scopes: Vec<String> = Vec::new();
    for token in text.split(' ').filter(|t| !t.is_empty()) {
        if !valid_token(token) {
            return None;
        }
        if !scopes.iter().any(|s| s == token) {
            scopes.push(token.to_owned());
        }
    }
    Some(scopes)
}

/// The `scope` parameter for a list.
pub fn join(scopes: &[String]) -> String {
    scopes.join(" ")
}

/// Whether every scope of `requested` is in `allowed`.
pub fn all_within(requested: &[String], allowed: &[String]) -> bool {
    requested.iter().all(|s| allowed.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_split_on_spaces_drop_duplicates_and_refuse_quotes() {
        assert_eq!(
            parse("read:jira  write:jira read:jira"),
            Some(vec!["read:jira".to_owned(), "write:jira".to_owned()])
        );
        assert_eq!(parse("a\"b"), None);
        assert_eq!(parse(""), Some(vec![]));
    }
}
