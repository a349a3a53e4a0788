//! RFC 5849 section 3.6 percent-encoding (RFC 3986 unreserved set, upper-case hex) and
//! its strict inverse.
//!
//! Signatures are computed over encoded text, so both sides must encode byte for byte
//! alike: only `A-Z a-z 0-9 - . _ ~` pass through, everything else becomes `%XX` with
//! upper-case hex over the UTF-8 bytes. Decoding is strict: a malformed escape or
//! invalid UTF-8 is refused rather than guessed at, because a lenient decoder would
//! let two different wire forms verify as one.

use std::borrow::Cow;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Every byte except RFC 3986 unreserved characters is escaped.
const RESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes `text`: every byte outside `A-Z a-z 0-9 - . _ ~` becomes `%XX`.
pub fn encode(text: &str) -> String {
    utf8_percent_encode(text, RESERVED).to_string()
}

/// [`encode`], borrowing `text` when nothing in it needs escaping.
pub fn encode_cow(text: &str) -> Cow<'_, str> {
    utf8_percent_encode(text, RESERVED).into()
}

/// [`encode`], appended to `out`.
pub fn encode_into(out: &mut String, text: &str) {
    out.extend(utf8_percent_encode(text, RESERVED));
}

/// Decodes `%XX` escapes (not `+`). `None` for a malformed escape or invalid UTF-8.
pub fn decode(text: &str) -> Option<String> {
    decode_cow(text).map(Cow::into_owned)
}

/// [`decode`], borrowing `text` when it holds no escape.
pub fn decode_cow(text: &str) -> Option<Cow<'_, str>> {
    // `percent_decode_str` passes a malformed escape through untouched; we refuse it.
    let mut bytes = text.bytes();
    while let Some(byte) = bytes.next() {
        if byte == b'%' {
            let high = bytes.next()?;
            let low = bytes.next()?;
            if !high.is_ascii_hexdigit() || !low.is_ascii_hexdigit() {
                return None;
            }
        }
    }
    percent_decode_str(text).decode_utf8().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn unreserved_characters_pass_through_unchanged() {
        let unreserved = "ABCXYZabcxyz0189-._~";
        assert_eq!(encode(unreserved), unreserved);
    }

    #[test]
    fn reserved_characters_become_upper_case_escapes() {
        assert_eq!(
            encode("a b+c/d=e&f%g*h'i!"),
            "a%20b%2Bc%2Fd%3De%26f%25g%2Ah%27i%21"
        );
        assert_eq!(
            encode("http://printer.example.com/ready"),
            "http%3A%2F%2Fprinter.example.com%2Fready"
        );
    }

    #[test]
    fn non_ascii_text_is_encoded_byte_by_byte_as_utf8() {
        assert_eq!(encode("é"), "%C3%A9");
        assert_eq!(encode("☃"), "%E2%98%83");
    }

    #[test]
    fn decoding_reverses_encoding() {
        for text in ["", "plain", "a b+c/d=e&f%g", "é☃", "%"] {
            assert_eq!(decode(&encode(text)).as_deref(), Some(text));
        }
    }

    #[test]
    fn text_with_nothing_to_change_is_borrowed_not_copied() {
        assert!(matches!(encode_cow("plain-text_1.0~"), Cow::Borrowed(_)));
        assert!(matches!(decode_cow("plain+text"), Some(Cow::Borrowed(_))));
        assert_eq!(encode_cow("a b").as_ref(), "a%20b");
        assert_eq!(decode_cow("a%20b").as_deref(), Some("a b"));
        assert_eq!(decode_cow("%zz"), None);
    }

    #[test]
    fn encoding_into_a_string_appends_what_encode_returns() {
        let mut out = String::from("GET&");
        encode_into(&mut out, "http://example.com/a b");
        assert_eq!(out, format!("GET&{}", encode("http://example.com/a b")));
    }

    #[test]
    fn decoding_accepts_lower_case_hex() {
        assert_eq!(decode("%2f%2F").as_deref(), Some("//"));
    }

    #[test]
    fn decoding_leaves_plus_as_plus() {
        assert_eq!(decode("a+b").as_deref(), Some("a+b"));
    }

    #[test]
    fn malformed_escapes_are_refused() {
        for text in ["%", "%2", "abc%", "%zz", "%2g", "%%41"] {
            assert_eq!(decode(text), None, "{text}");
        }
    }

    #[test]
    fn escapes_that_are_not_utf8_are_refused() {
        assert_eq!(decode("%FF"), None);
        assert_eq!(decode("%C3"), None);
    }
}
