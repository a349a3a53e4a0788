//! Consumer rules: what a valid consumer key is, and which callbacks a consumer may
//! ask for.
//!
//! Callbacks are checked as URLs, never as strings: a registered
//! `https://app.example.com/cb` admits `https://app.example.com/cb/done` but not
//! `https://app.example.com.evil.net/cb` (a string-prefix match would: an open
//! redirect), nor `https://app.example.com/cbx`, nor another scheme or port.
//!
//! Paths are compared segment by segment after percent-decoding, since the server
//! behind the callback decodes them too: `/cb/..%2fadmin` is `/cb/../admin` to it.
//! A path whose decoding hides a separator, a NUL or a dot segment is refused rather
//! than guessed at, however many layers of encoding it wears.

use url::Url;

/// The spelling of an out-of-band callback (RFC 5849 section 2.1).
pub const OUT_OF_BAND: &str = "oob";

/// Checks a consumer key: 1 to 255 printable ASCII characters without spaces.
pub fn validate_consumer_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > 255 {
        return Err("a consumer key has 1 to 255 characters".into());
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("a consumer key is printable ASCII without spaces".into());
    }
    Ok(())
}

/// Parses an absolute http or https URL with a host.
pub fn parse_absolute_http_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("not an absolute URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("the URL must be http or https".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL must name a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the URL must not carry user information".into());
    }
    Ok(url)
}

/// How many times a callback path segment may be percent-decoded before it must be
/// plain. Real callbacks are encoded once, twice at most (a URL carried in a path);
/// deeper layers serve only to hide something from whichever server decodes once more.
const MAX_DECODING_ROUNDS: usize = 3;

/// Checks an `oauth_callback` against the consumer's registered callback, if any:
/// `oob`, or an absolute http(s) URL that lies under the registered one.
pub fn check_callback(callback: &str, registered: Option<&str>) -> Result<(), String> {
    if callback == OUT_OF_BAND {
        return Ok(());
    }
    let asked = parse_absolute_http_url(callback)?;
    let Some(registered) = registered else {
        return Ok(());
    };
    let allowed = parse_absolute_http_url(registered)
        .map_err(|e| format!("the registered callback is unusable: {e}"))?;
    if asked.scheme() != allowed.scheme()
        || asked.host_str() != allowed.host_str()
        || asked.port_or_known_default() != allowed.port_or_known_default()
    {
        return Err("the callback must have the registered scheme, host and port".into());
    }
    let base = decoded_segments(allowed.path())
        .map_err(|e| format!("the registered callback is unusable: {e}"))?;
    if !path_is_under(&decoded_segments(asked.path())?, &base) {
        return Err("the callback must lie under the registered path".into());
    }
    Ok(())
}

/// Whether `path` equals `base` or lies below it on a segment boundary. A trailing
/// slash on `base` is an empty last segment: `/cb/` admits `/cb/done`, not `/cb`.
fn path_is_under(path: &[Vec<u8>], base: &[Vec<u8>]) -> bool {
    if path == base {
        return true;
    }
    let base = match base.split_last() {
        Some((last, rest)) if last.is_empty() => rest,
        _ => base,
    };
    path.len() > base.len() && path.starts_with(base)
}

/// The segments of a parsed URL's path, each fully percent-decoded. URL parsing has
/// already resolved plain and singly encoded dot segments (`..`, `%2e%2e`) and read
/// `\` as `/`; what is left to refuse is what only decoding reveals.
fn decoded_segments(path: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut segments = path.split('/');
    // The path of an http(s) URL starts with `/`: the first piece is always empty.
    segments.next();
    segments
        .map(|segment| {
            let decoded = fully_decoded(segment)?;
            if decoded.iter().any(|b| matches!(b, b'/' | b'\\' | 0)) {
                return Err(
                    "the callback path hides a separator or NUL in percent-encoding".into(),
                );
            }
            // Servlet containers read `..;x` as `..`, so a segment's path parameters do
            // not make a dot segment safe.
            let name = decoded.split(|&b| b == b';').next().unwrap_or_default();
            if name == b"." || name == b".." {
                return Err("the callback path hides a dot segment".into());
            }
            if std::str::from_utf8(&decoded).is_err() {
                return Err("the callback path is not UTF-8 once decoded".into());
            }
            Ok(decoded)
        })
        .collect()
}

/// Percent-decodes `segment` until nothing changes, at most [`MAX_DECODING_ROUNDS`]
/// times; a segment that would still change is refused.
fn fully_decoded(segment: &str) -> Result<Vec<u8>, String> {
    let mut bytes = segment.as_bytes().to_vec();
    for _ in 0..=MAX_DECODING_ROUNDS {
        let next: Vec<u8> = percent_encoding::percent_decode(&bytes).collect();
        if next == bytes {
            return Ok(bytes);
        }
        bytes = next;
    }
    Err("the callback path is percent-encoded too many times over".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGISTERED: Option<&str> = Some("https://app.example.com/cb");

    #[test]
    fn a_callback_under_the_registered_path_is_accepted() {
        assert_eq!(
            check_callback("https://app.example.com/cb", REGISTERED),
            Ok(())
        );
        assert_eq!(
            check_callback("https://app.example.com/cb/done?x=1", REGISTERED),
            Ok(())
        );
        assert_eq!(
            check_callback("https://APP.example.com:443/cb", REGISTERED),
            Ok(())
        );
        assert_eq!(check_callback("oob", REGISTERED), Ok(()));
    }

    #[test]
    fn a_look_alike_callback_is_refused() {
        for bad in [
            "https://app.example.com.evil.net/cb",
            "https://app.example.com@evil.net/cb",
            "http://app.example.com/cb",
            "https://app.example.com:8443/cb",
            "https://app.example.com/cbx",
            "https://app.example.com/cb/../admin",
            "https://app.example.com/",
            "javascript:alert(1)",
            "/cb",
            "OOB",
        ] {
            assert!(
                check_callback(bad, REGISTERED).is_err(),
                "{bad} was accepted"
            );
        }
    }

    #[test]
    fn a_callback_that_escapes_the_registered_path_once_decoded_is_refused() {
        for bad in [
            "https://app.example.com/cb/..%2fadmin",
            "https://app.example.com/cb/..%2Fadmin",
            "https://app.example.com/cb/%2e%2e/admin",
            "https://app.example.com/cb/%2E%2E%2Fadmin",
            "https://app.example.com/cb/.%2e/admin",
            "https://app.example.com/cb/..%5cadmin",
            "https://app.example.com/cb\\..\\admin",
            "https://app.example.com/cb/..%252fadmin",
            "https://app.example.com/cb/%252e%252e/admin",
            "https://app.example.com/cb/%25252e%25252e/admin",
            "https://app.example.com/cb/%2525252e%2525252e/admin",
            "https://app.example.com/cb/..;/admin",
            "https://app.example.com/cb/%2e%2e;x/admin",
            "https://app.example.com/cb/done%00.html",
            "https://app.example.com/cb/%c0%af",
            "https://app.example.com/cb%2fdone",
            "https://app.example.com/c%62x",
        ] {
            assert!(
                check_callback(bad, REGISTERED).is_err(),
                "{bad} was accepted"
            );
        }
    }

    #[test]
    fn a_callback_is_compared_by_its_decoded_path() {
        for good in [
            "https://app.example.com/%63b",
            "https://app.example.com/cb/%64one",
            "https://app.example.com/cb/50%25off",
            "https://app.example.com/cb/caf%C3%A9",
            "https://app.example.com/cb/a%2520b",
            "https://app.example.com/cb/..done",
        ] {
            assert_eq!(check_callback(good, REGISTERED), Ok(()), "{good}");
        }
        let slashed = Some("https://app.example.com/cb/");
        assert_eq!(
            check_callback("https://app.example.com/cb/done", slashed),
            Ok(())
        );
        assert!(check_callback("https://app.example.com/cb", slashed).is_err());
        let root = Some("https://app.example.com/");
        assert_eq!(check_callback("https://app.example.com/any", root), Ok(()));
    }

    #[test]
    fn without_a_registered_callback_any_absolute_http_url_is_accepted() {
        assert_eq!(check_callback("http://localhost:9000/x", None), Ok(()));
        assert!(check_callback("ftp://example.com/x", None).is_err());
        assert!(check_callback("not a url", None).is_err());
    }

    #[test]
    fn consumer_keys_are_printable_ascii_without_spaces() {
        assert!(validate_consumer_key("jira-app_1").is_ok());
        assert!(validate_consumer_key("").is_err());
        assert!(validate_consumer_key("has space").is_err());
        assert!(validate_consumer_key(&"k".repeat(256)).is_err());
        assert!(validate_consumer_key("ключ").is_err());
    }
}
