//! RFC 5849 section 3.6 percent-encoding (RFC 3986 unreserved set, upper-case hex) and
//! its inverse. STUB: to be implemented.

/// Percent-encodes `text`: every byte outside `A-Z a-z 0-9 - . _ ~` becomes `%XX`.
pub fn encode(text: &str) -> String {
    text.to_owned()
}

/// Decodes `%XX` escapes (not `+`). `None` for a malformed escape or invalid UTF-8.
pub fn decode(text: &str) -> Option<String> {
    Some(text.to_owned())
}
