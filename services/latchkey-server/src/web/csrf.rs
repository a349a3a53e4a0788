//! Form tokens against cross-site request forgery: a signed double-submit cookie.
//!
//! A page that carries a form sets (or keeps) a random cookie and puts into the form
//! an HMAC of that cookie and the signed-in user, under a key derived from the
//! encryption key, so every replica accepts every replica's forms and no server-side
//! session is needed. A POST is accepted only when its form token matches its cookie
//! for the same user: another site can make the browser send the cookie (SameSite
//! stops most of that) but can neither read it nor compute the token, and a cookie
//! planted by a sibling subdomain does not match a token it cannot sign. A request
//! that the browser labels `Sec-Fetch-Site: cross-site` is refused outright.

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The cookie's name.
pub const COOKIE_NAME: &str = "latchkey_form";
/// The form field's name.
pub const FIELD_NAME: &str = "form_token";

/// Issues and checks form tokens.
#[derive(Clone)]
pub struct FormGuard {
    key: [u8; 32],
    secure_cookie: bool,
}

impl std::fmt::Debug for FormGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FormGuard(..)")
    }
}

/// The token to put in a page's forms, and the cookie to set with it, if a new one.
#[derive(Debug)]
pub struct FormToken {
    /// The hidden field's value.
    pub value: String,
    /// `Set-Cookie` for a cookie this request did not carry.
    pub set_cookie: Option<HeaderValue>,
}

impl FormGuard {
    /// A guard signing with `key`; `secure_cookie` marks the cookie `Secure` (when the
    /// public base URL is https).
    pub fn new(key: [u8; 32], secure_cookie: bool) -> Self {
        Self { key, secure_cookie }
    }

    /// The form token for a page shown to `user` (empty for nobody).
    pub fn issue(&self, headers: &HeaderMap, user: &str) -> FormToken {
        match cookie_in(headers).filter(|c| is_well_formed(c)) {
            Some(cookie) => FormToken {
                value: self.sign(&cookie, user),
                set_cookie: None,
            },
            None => {
                let mut bytes = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut bytes);
                let cookie = URL_SAFE_NO_PAD.encode(bytes);
                let secure = if self.secure_cookie { "; Secure" } else { "" };
                let header =
                    format!("{COOKIE_NAME}={cookie}; Path=/; HttpOnly; SameSite=Strict{secure}");
                FormToken {
                    value: self.sign(&cookie, user),
                    // Base64url and fixed words: always a valid header value.
                    set_cookie: HeaderValue::from_str(&header).ok(),
                }
            }
        }
    }

    /// Whether a posted form token is good for this request's cookie and `user`.
    pub fn accepts(&self, headers: &HeaderMap, user: &str, posted: &str) -> bool {
        let cross_site = headers
            .get("sec-fetch-site")
            .is_some_and(|site| site.as_bytes() == b"cross-site");
        let Some(cookie) = cookie_in(headers).filter(|c| is_well_formed(c)) else {
            return false;
        };
        let expected = self.sign(&cookie, user);
        !cross_site && bool::from(expected.as_bytes().ct_eq(posted.as_bytes()))
    }

    fn sign(&self, cookie: &str, user: &str) -> String {
        // HMAC takes a key of any length; the error arm is unreachable.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            return String::new();
        };
        mac.update(cookie.as_bytes());
        mac.update(b"\0");
        mac.update(user.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

/// Adds the cookie of `token`, if new, to a response's headers.
pub fn set_cookie(headers: &mut HeaderMap, token: &FormToken) {
    if let Some(cookie) = &token.set_cookie {
        headers.append(SET_COOKIE, cookie.clone());
    }
}

fn cookie_in(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.to_owned())
}

/// 32 random bytes in base64url: what [`FormGuard::issue`] sets.
fn is_well_formed(cookie: &str) -> bool {
    cookie.len() == 43
        && cookie
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn with_cookie_of(token: &FormToken) -> HeaderMap {
        let set = token.set_cookie.as_ref().unwrap().to_str().unwrap();
        let pair = set.split(';').next().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_str(pair).unwrap());
        headers
    }

    #[test]
    fn a_token_is_accepted_with_its_cookie_for_its_user_only() {
        let guard = FormGuard::new([7; 32], false);
        let token = guard.issue(&HeaderMap::new(), "alice");
        let set = token.set_cookie.as_ref().unwrap().to_str().unwrap();
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"));
        let headers = with_cookie_of(&token);
        assert!(guard.accepts(&headers, "alice", &token.value));
        assert!(!guard.accepts(&headers, "mallory", &token.value));
        assert!(!guard.accepts(&HeaderMap::new(), "alice", &token.value));
        assert!(!guard.accepts(&headers, "alice", "forged"));
        let other_key = FormGuard::new([8; 32], false);
        assert!(!other_key.accepts(&headers, "alice", &token.value));
    }

    #[test]
    fn a_kept_cookie_is_reused_and_a_cross_site_post_is_refused() {
        let guard = FormGuard::new([7; 32], true);
        let first = guard.issue(&HeaderMap::new(), "alice");
        assert!(
            first
                .set_cookie
                .as_ref()
                .unwrap()
                .to_str()
                .unwrap()
                .ends_with("; Secure")
        );
        let mut headers = with_cookie_of(&first);
        let again = guard.issue(&headers, "alice");
        assert!(again.set_cookie.is_none());
        assert_eq!(again.value, first.value);
        headers.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!guard.accepts(&headers, "alice", &first.value));
    }
}
