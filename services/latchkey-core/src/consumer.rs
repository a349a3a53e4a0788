//! Consumer rules: what a valid consumer key is, and which callbacks a consumer may
//! ask for.
//!
//! Callbacks are checked as URLs, never as strings: a registered
//! `https://app.example.com/cb` admits `https://app.example.com/cb/done` but not
//! `https://app.example.com.evil.net/cb` (a string-prefix match would: an open
//! redirect), nor `https://app.example.com/cbx`, nor another scheme or port.

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

/// Checks an `oauth_callback` against the consumer's registered callback, if any.
/// Returns the callback to store: `oob` or the URL as sent.
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
    if !path_is_under(asked.path(), allowed.path()) {
        return Err("the callback must lie under the registered path".into());
    }
    Ok(())
}

/// Whether `path` equals `base` or lies below it on a segment boundary.
fn path_is_under(path: &str, base: &str) -> bool {
    // Dot segments are already resolved by URL parsing, so "/cb/../admin" cannot sneak
    // out from under "/cb".
    if path == base || base == "/" {
        return true;
    }
    let base = base.trim_end_matches('/');
    path.strip_prefix(base)
        .is_some_and(|rest| rest.starts_with('/'))
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
