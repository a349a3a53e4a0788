//! Registration rules for OAuth 2.0 clients: ids, redirect URIs, secrets.
//!
//! Redirect URIs are registered in full and compared by exact string match (RFC 9700
//! section 4.1.3): no prefixes, no wildcards. They must be absolute, without a
//! fragment (RFC 6749 section 3.1.2); `http` is accepted only for loopback hosts
//! (native apps, RFC 8252 section 7.3); private-use schemes (`com.example.app:/cb`)
//! are accepted for native apps.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordVerifier};
use url::Url;

/// Checks a client id: 1 to 255 printable ASCII characters without spaces.
pub fn validate_client_id(client_id: &str) -> Result<(), String> {
    if client_id.is_empty() || client_id.len() > 255 {
        return Err("a client id has 1 to 255 characters".into());
    }
    if !client_id.bytes().all(|b| b.is_ascii_graphic()) || client_id.contains(':') {
        return Err("a client id is printable ASCII without spaces or colons".into());
    }
    Ok(())
}

/// Checks one redirect URI for registration.
pub fn validate_redirect_uri(uri: &str) -> Result<(), String> {
    let url = Url::parse(uri).map_err(|e| format!("{uri:?} is not an absolute URI: {e}"))?;
    if url.fragment().is_some() {
        return Err(format!("{uri:?} has a fragment"));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" => {
            let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
            if loopback {
                Ok(())
            } else {
                Err(format!("{uri:?}: plain http is only for loopback hosts"))
            }
        }
        // A private-use scheme of a native app: reverse domain notation with a dot.
        scheme if scheme.contains('.') => Ok(()),
        scheme => Err(format!("{uri:?}: the scheme {scheme} is not accepted")),
    }
}

/// Whether `presented` matches the argon2 PHC `hash`. Slow by design (about 19 MiB
/// and tens of milliseconds) and blocking: the token endpoint calls it only through
/// [`super::secret_checks::ClientSecretChecks`], off the async runtime.
pub fn secret_matches(presented: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(presented.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_must_be_https_loopback_http_or_a_private_scheme() {
        assert!(validate_redirect_uri("https://app.example.com/cb").is_ok());
        assert!(validate_redirect_uri("http://127.0.0.1:8000/cb").is_ok());
        assert!(validate_redirect_uri("com.example.app:/cb").is_ok());
        assert!(validate_redirect_uri("http://app.example.com/cb").is_err());
        assert!(validate_redirect_uri("https://app.example.com/cb#x").is_err());
        assert!(validate_redirect_uri("/relative").is_err());
        assert!(validate_redirect_uri("javascript:alert(1)").is_err());
    }
}
