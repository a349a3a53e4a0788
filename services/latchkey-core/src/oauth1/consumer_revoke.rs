//! What a consumer's signed revocation must say, so that only a request made to revoke
//! can revoke.
//!
//! A consumer proves itself to `Revoke` with a signed request. Any correctly signed
//! request proves who the consumer is, but an ordinary resource request
//! (`GET /rest/api/2/search`) is seen by every service it passes through; if it also
//! counted as a revocation, any of them could replay it to revoke the consumer's
//! tokens. So the signature must cover a request that means "revoke this" and nothing
//! else: a `POST` to Latchkey's own revoke URL (`public_base_url` + [`REVOKE_PATH`]),
//! with no query, naming its target in the `application/x-www-form-urlencoded` body,
//! whose parameters RFC 5849 section 3.4.1.3.1 puts in the signature base string:
//!
//! - `token_id=<uuid>`: one access token;
//! - `user_id=<id>&consumer_key=<key>`: every token that user granted the consumer;
//! - `consumer_key=<key>`: every token of the consumer.
//!
//! Besides these, the body may hold only `oauth_*` protocol parameters. Anything else
//! is refused with `parameter_rejected` (naming `method`, `url` or the body parameters
//! at fault) or `parameter_absent`, before the signature is checked: a refused request
//! spends no nonce and revokes nothing. A revocation is as single-use as any signed
//! request: its nonce is spent once it verifies, so a replay is `nonce_used`.

use super::HttpRequest;
use super::records::RevokeTarget;
use crate::error::{AuthorityError, AuthorityResult, OAuthFailure, Problem};
use crate::oauth1::request::form_body_parameters;
use url::Url;
use uuid::Uuid;

/// The revoke URL's path under `public_base_url`. Latchkey serves it over HTTP too.
/// Jira has no such endpoint, so unlike the dance's paths it has no alias.
pub const REVOKE_PATH: &str = "/plugins/servlet/oauth/revoke";

/// The body parameter naming one access token, by the id `ExchangeToken` returns.
pub const TOKEN_ID: &str = "token_id";
/// The body parameter naming a user; with [`CONSUMER_KEY`], that user's grants.
pub const USER_ID: &str = "user_id";
/// The body parameter naming a consumer; alone, all of its tokens.
pub const CONSUMER_KEY: &str = "consumer_key";

/// The revoke URL under a public base URL (with or without a trailing slash).
pub fn revoke_url(public_base_url: &str) -> String {
    format!("{}{REVOKE_PATH}", public_base_url.trim_end_matches('/'))
}

/// What `http` asks to revoke, if it is a revocation addressed to `revoke_url`. Reads
/// the request alone; the signature is checked afterwards, over the same parameters.
pub(crate) fn asked_target(
    http: &HttpRequest<'_>,
    revoke_url: &str,
) -> AuthorityResult<RevokeTarget> {
    // The base string upper-cases the method (RFC 5849 section 3.4.1.1): so do we.
    if !http.method.eq_ignore_ascii_case("POST") {
        return Err(rejected(["method"], "a revocation is signed as a POST").into());
    }
    let expected = Url::parse(revoke_url).map_err(|error| AuthorityError::Internal {
        detail: format!("the revoke URL {revoke_url} does not parse: {error}"),
    })?;
    let url =
        Url::parse(http.url).map_err(|_| rejected(["url"], "the request URL does not parse"))?;
    if url.query().is_some() {
        return Err(rejected(
            ["url"],
            "a revocation carries no query: its target goes in the form body",
        )
        .into());
    }
    // `Url` has normalised both (case of scheme and host, default port, dot segments),
    // as the signature base string does.
    if url != expected {
        return Err(rejected(["url"], format!("a revocation is signed for {expected}")).into());
    }
    Ok(target_in(http.form_body)?)
}

/// The one target a revocation's form body names.
fn target_in(form_body: &str) -> Result<RevokeTarget, OAuthFailure> {
    let (mut token_id, mut user_id, mut consumer_key) = (None, None, None);
    let mut unknown: Vec<String> = Vec::new();
    let mut at_fault: Vec<&'static str> = Vec::new();
    for (name, value) in form_body_parameters(form_body)? {
        let (known, slot) = match name.as_str() {
            TOKEN_ID => (TOKEN_ID, &mut token_id),
            USER_ID => (USER_ID, &mut user_id),
            CONSUMER_KEY => (CONSUMER_KEY, &mut consumer_key),
            protocol if protocol.starts_with("oauth_") => continue,
            _ => {
                if !unknown.contains(&name) {
                    unknown.push(name);
                }
                continue;
            }
        };
        // Repeated or empty: either way the body does not name one thing.
        if (slot.replace(value).is_some() || slot.as_deref() == Some(""))
            && !at_fault.contains(&known)
        {
            at_fault.push(known);
        }
    }
    if !unknown.is_empty() {
        return Err(rejected(
            unknown,
            "a revocation's body holds only token_id, user_id, consumer_key and oauth_* \
             parameters",
        ));
    }
    if !at_fault.is_empty() {
        return Err(rejected(
            at_fault,
            "each target parameter is sent once, and not empty",
        ));
    }
    match (token_id, user_id, consumer_key) {
        (Some(id), None, None) => Uuid::parse_str(&id)
            .map(RevokeTarget::Token)
            .map_err(|_| rejected([TOKEN_ID], "token_id is not a token id")),
        (None, Some(user_id), Some(consumer_key)) => Ok(RevokeTarget::UserGrants {
            user_id,
            consumer_key,
        }),
        (None, None, Some(consumer_key)) => Ok(RevokeTarget::Consumer(consumer_key)),
        (None, Some(_), None) => Err(OAuthFailure::with_parameters(
            Problem::ParameterAbsent,
            "user_id names that user's grants to the consumer consumer_key names",
            [CONSUMER_KEY],
        )),
        (None, None, None) => Err(OAuthFailure::with_parameters(
            Problem::ParameterAbsent,
            "a revocation names its target in an application/x-www-form-urlencoded \
             body: token_id, consumer_key, or user_id with consumer_key",
            [TOKEN_ID, CONSUMER_KEY],
        )),
        (Some(_), user_id, consumer_key) => {
            let mut named = vec![TOKEN_ID];
            named.extend(user_id.map(|_| USER_ID));
            named.extend(consumer_key.map(|_| CONSUMER_KEY));
            Err(rejected(
                named,
                "a revocation names one target: token_id alone, or consumer_key with or \
                 without user_id",
            ))
        }
    }
}

fn rejected(
    parameters: impl IntoIterator<Item = impl Into<String>>,
    detail: impl Into<String>,
) -> OAuthFailure {
    OAuthFailure::with_parameters(Problem::ParameterRejected, detail, parameters)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    const BASE: &str = "https://auth.example.com/";
    const ID: &str = "9f0c3c0e-5d4b-4a8e-9a43-0a4c1e0f6b2d";

    fn asked(method: &str, url: &str, form_body: &str) -> AuthorityResult<RevokeTarget> {
        let http = HttpRequest {
            method,
            url,
            authorization: "OAuth oauth_consumer_key=\"k\"",
            form_body,
        };
        asked_target(&http, &revoke_url(BASE))
    }

    fn at(path: &str) -> String {
        format!("https://auth.example.com{path}")
    }

    /// The problem word and the parameters it names.
    fn refusal(result: AuthorityResult<RevokeTarget>) -> (Problem, Vec<String>) {
        match result.unwrap_err() {
            AuthorityError::OAuth(failure) => (failure.problem, failure.advice.parameters),
            other => panic!("not a protocol failure: {other}"),
        }
    }

    #[test]
    fn the_revoke_url_is_the_public_base_url_and_the_revoke_path() {
        assert_eq!(
            revoke_url("https://x.example/prefix/"),
            "https://x.example/prefix/plugins/servlet/oauth/revoke"
        );
        assert_eq!(
            revoke_url("https://x.example"),
            revoke_url("https://x.example/")
        );
    }

    #[test]
    fn a_post_to_the_revoke_url_names_its_target_in_the_body() {
        let url = at(REVOKE_PATH);
        assert_eq!(
            asked("POST", &url, &format!("token_id={ID}")).unwrap(),
            RevokeTarget::Token(Uuid::parse_str(ID).unwrap())
        );
        assert_eq!(
            asked("post", &url, "consumer_key=jira&oauth_nonce=n").unwrap(),
            RevokeTarget::Consumer("jira".into())
        );
        assert_eq!(
            asked("POST", &url, "user_id=ann+lee&consumer_key=jira").unwrap(),
            RevokeTarget::UserGrants {
                user_id: "ann lee".into(),
                consumer_key: "jira".into(),
            }
        );
    }

    #[test]
    fn the_url_is_compared_as_the_signature_base_string_reads_it() {
        let url = "HTTPS://Auth.Example.COM:443/plugins/servlet/oauth/revoke";
        assert!(asked("POST", url, "consumer_key=jira").is_ok());
    }

    #[test]
    fn a_request_that_is_not_a_post_is_no_revocation() {
        for method in ["GET", "PUT", "DELETE", "POSTX"] {
            let (problem, named) = refusal(asked(method, &at(REVOKE_PATH), "consumer_key=k"));
            assert_eq!(
                (problem, named),
                (Problem::ParameterRejected, vec!["method".into()])
            );
        }
    }

    #[test]
    fn a_request_to_any_other_url_is_no_revocation() {
        for url in [
            at("/rest/api/2/search"),
            at("/plugins/servlet/oauth/revoke/"),
            at("/oauth/revoke"),
            "http://auth.example.com/plugins/servlet/oauth/revoke".into(),
            "https://jira.example.com/plugins/servlet/oauth/revoke".into(),
            "https://auth.example.com:8443/plugins/servlet/oauth/revoke".into(),
            "https://user@auth.example.com/plugins/servlet/oauth/revoke".into(),
            format!("{}#consumer_key=k", at(REVOKE_PATH)),
            format!("{}?consumer_key=k", at(REVOKE_PATH)),
            format!("{}?", at(REVOKE_PATH)),
            "not a url".into(),
        ] {
            let (problem, named) = refusal(asked("POST", &url, "consumer_key=k"));
            assert_eq!(problem, Problem::ParameterRejected, "{url}");
            assert_eq!(named, ["url"], "{url}");
        }
    }

    #[test]
    fn a_target_in_the_query_alone_is_refused() {
        let url = format!("{}?token_id={ID}", at(REVOKE_PATH));
        assert_eq!(
            refusal(asked("POST", &url, "")),
            (Problem::ParameterRejected, vec!["url".into()])
        );
    }

    #[test]
    fn a_body_that_names_no_target_is_refused_as_absent() {
        let url = at(REVOKE_PATH);
        for body in ["", "oauth_nonce=n"] {
            assert_eq!(
                refusal(asked("POST", &url, body)),
                (
                    Problem::ParameterAbsent,
                    vec![TOKEN_ID.into(), CONSUMER_KEY.into()]
                ),
                "{body:?}"
            );
        }
        assert_eq!(
            refusal(asked("POST", &url, "user_id=ann")),
            (Problem::ParameterAbsent, vec![CONSUMER_KEY.into()])
        );
    }

    #[test]
    fn a_body_that_does_not_name_exactly_one_target_is_refused_naming_the_culprits() {
        let url = at(REVOKE_PATH);
        let cases: [(&str, &[&str]); 8] = [
            ("consumer_key=a&consumer_key=b", &[CONSUMER_KEY]),
            ("consumer_key=", &[CONSUMER_KEY]),
            ("user_id=&consumer_key=k", &[USER_ID]),
            ("token_id=not-a-uuid", &[TOKEN_ID]),
            ("token_id=1&consumer_key=k", &[TOKEN_ID, CONSUMER_KEY]),
            (
                "token_id=1&user_id=u&consumer_key=k",
                &[TOKEN_ID, USER_ID, CONSUMER_KEY],
            ),
            ("consumer_key=k&everything=yes", &["everything"]),
            ("consumer_key=k&a=1&a=2&b", &["a", "b"]),
        ];
        for (body, named) in cases {
            assert_eq!(
                refusal(asked("POST", &url, body)),
                (
                    Problem::ParameterRejected,
                    named.iter().map(|n| (*n).to_owned()).collect()
                ),
                "{body:?}"
            );
        }
        let (problem, _) = refusal(asked("POST", &url, "consumer_key=%zz"));
        assert_eq!(problem, Problem::ParameterRejected);
    }
}
