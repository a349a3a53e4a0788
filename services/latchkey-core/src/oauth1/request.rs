//! Reading a consumer's HTTP request: parameters from the `Authorization` header, the
//! query and the form body (RFC 5849 section 3.5), the protocol parameters among them,
//! and the signature base string (section 3.4.1).
//!
//! Invariants of a parsed [`OAuthRequest`]: every `oauth_*` name occurred at most once
//! across all three sources; the required protocol parameters are present; the base
//! string is built from exactly the parameters the consumer sent (minus `realm` and
//! `oauth_signature`). Nothing here checks time, nonces or secrets: the authority does.
//! Parsing is strict and total: malformed input is a `parameter_rejected`, never a
//! guess and never a panic, and oversized input is refused before any work is done.

use std::borrow::Cow;
use std::collections::BTreeMap;

use url::Url;

use super::SignatureMethod;
use super::encoding::{decode, decode_cow, encode_cow, encode_into};
use crate::error::{OAuthFailure, Problem};

/// The largest header, URL or body we read; real OAuth requests are a few hundred bytes.
const MAX_FIELD_BYTES: usize = 64 * 1024;
/// The most parameters we collect across all sources.
const MAX_PARAMETERS: usize = 512;
/// The only `oauth_version` RFC 5849 defines.
const VERSION: &str = "1.0";

/// A consumer's HTTP request as the edge received it.
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    /// The HTTP method, e.g. `POST`.
    pub method: &'a str,
    /// The absolute URL the consumer addressed, with its query.
    pub url: &'a str,
    /// The `Authorization` header value; empty when absent.
    pub authorization: &'a str,
    /// An `application/x-www-form-urlencoded` body; empty when absent.
    pub form_body: &'a str,
}

/// The `oauth_*` parameters, each present at most once across all sources.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProtocolParams {
    /// `oauth_consumer_key`.
    pub consumer_key: String,
    /// `oauth_signature_method`, as sent.
    pub signature_method: String,
    /// `oauth_signature`, decoded.
    pub signature: String,
    /// `oauth_token`, when present.
    pub token: Option<String>,
    /// `oauth_timestamp`, as sent.
    pub timestamp: Option<String>,
    /// `oauth_nonce`.
    pub nonce: Option<String>,
    /// `oauth_version`.
    pub version: Option<String>,
    /// `oauth_callback`, decoded.
    pub callback: Option<String>,
    /// `oauth_verifier`.
    pub verifier: Option<String>,
}

/// A parsed, well-formed OAuth 1.0a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthRequest {
    /// The protocol parameters.
    pub protocol: ProtocolParams,
    /// The signature base string (RFC 5849 section 3.4.1).
    pub base_string: String,
    /// Whether the URL's scheme is https (PLAINTEXT is refused otherwise).
    pub is_https: bool,
    /// `xoauth_requestor_id`, decoded: the user a 2-legged request acts for, as
    /// Atlassian's application links (after Google's 2-legged OAuth) send it in the
    /// query or the form body, where it is signed.
    pub requestor_id: Option<String>,
}

/// The parameter a 2-legged request names its user in.
pub const REQUESTOR_ID: &str = "xoauth_requestor_id";

/// One decoded `name=value` pair, from whichever source; borrowed from the request
/// unless decoding changed it.
type Parameter<'a> = (Cow<'a, str>, Cow<'a, str>);

impl OAuthRequest {
    /// Parses and normalises a request. Fails with `parameter_absent` (naming the
    /// missing parameters), `parameter_rejected` (malformed header, URL or encoding,
    /// or a duplicated `oauth_*` parameter) or `version_rejected`.
    pub fn parse(request: &HttpRequest<'_>) -> Result<OAuthRequest, OAuthFailure> {
        within_limit("Authorization header", request.authorization)?;
        within_limit("url", request.url)?;
        within_limit("form body", request.form_body)?;

        let method = normalise_method(request.method)?;
        let url = parse_url(request.url)?;

        let mut parameters = Vec::new();
        header_parameters(request.authorization, &mut parameters)?;
        let from_header = parameters.len();
        form_parameters(url.query().unwrap_or(""), "query", &mut parameters)?;
        form_parameters(request.form_body, "form body", &mut parameters)?;
        if parameters.len() > MAX_PARAMETERS {
            return Err(rejected(format!(
                "{} parameters, more than the {MAX_PARAMETERS} accepted",
                parameters.len()
            )));
        }

        let protocol = protocol_parameters(&parameters)?;
        let mut requestors = parameters[from_header..]
            .iter()
            .filter(|(name, _)| name == REQUESTOR_ID);
        let requestor_id = requestors.next().map(|(_, value)| value.to_string());
        if requestors.next().is_some() {
            return Err(rejected_naming(
                REQUESTOR_ID,
                "xoauth_requestor_id is given twice",
            ));
        }
        let base_string = base_string(&method, &url, &parameters);
        Ok(OAuthRequest {
            protocol,
            base_string,
            is_https: url.scheme() == "https",
            requestor_id,
        })
    }
}

/// The parameters of an `application/x-www-form-urlencoded` body, decoded exactly as
/// [`OAuthRequest::parse`] reads them into the signature base string, so a use case
/// that acts on body parameters acts on what was signed. Fails as `parse` does on a
/// bad escape or an oversized body.
pub fn form_body_parameters(body: &str) -> Result<Vec<(String, String)>, OAuthFailure> {
    within_limit("form body", body)?;
    let mut parameters = Vec::new();
    form_parameters(body, "form body", &mut parameters)?;
    Ok(parameters
        .into_iter()
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect())
}

fn rejected(detail: impl Into<String>) -> OAuthFailure {
    OAuthFailure::new(Problem::ParameterRejected, detail)
}

fn rejected_naming(name: &str, detail: impl Into<String>) -> OAuthFailure {
    OAuthFailure::with_parameters(Problem::ParameterRejected, detail, [name])
}

fn within_limit(what: &str, text: &str) -> Result<(), OAuthFailure> {
    if text.len() > MAX_FIELD_BYTES {
        return Err(rejected(format!(
            "{what} is {} bytes, more than the {MAX_FIELD_BYTES} accepted",
            text.len()
        )));
    }
    Ok(())
}

/// RFC 7230 `tchar`: what a method or an auth-param name may be made of.
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

fn is_token(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(is_token_byte)
}

/// Section 3.4.1.1: the method, upper-cased.
fn normalise_method(method: &str) -> Result<String, OAuthFailure> {
    if !is_token(method) {
        return Err(rejected("the HTTP method is not a token"));
    }
    Ok(method.to_ascii_uppercase())
}

fn parse_url(text: &str) -> Result<Url, OAuthFailure> {
    let url = Url::parse(text).map_err(|error| {
        rejected_naming("url", format!("the request URL does not parse: {error}"))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(rejected_naming(
            "url",
            "the request URL is not an absolute http or https URL",
        ));
    }
    Ok(url)
}

/// Section 3.4.1: the method, the base string URI and the normalised parameters,
/// each percent-encoded, joined by `&`. The parameters are written encoded straight
/// into the result (encoding is byte by byte, so encoding the joined list and joining
/// the encoded pieces are one thing).
fn base_string(method: &str, url: &Url, parameters: &[Parameter<'_>]) -> String {
    let mut encoded: Vec<(Cow<'_, str>, Cow<'_, str>)> = parameters
        .iter()
        .filter(|(name, _)| name != "oauth_signature")
        .map(|(name, value)| (encode_cow(name), encode_cow(value)))
        .collect();
    // Section 3.4.1.3.2: sorted by encoded name, then encoded value.
    encoded.sort_unstable();
    let mut out = String::with_capacity(256);
    out.push_str(method);
    out.push('&');
    encode_into(&mut out, &base_string_uri(url));
    out.push('&');
    for (index, (name, value)) in encoded.iter().enumerate() {
        if index > 0 {
            out.push_str("%26");
        }
        encode_into(&mut out, name);
        out.push_str("%3D");
        encode_into(&mut out, value);
    }
    out
}

/// Section 3.4.1.2. `url` has already lower-cased the scheme and host, dropped a
/// default port and given an empty path as `/`; the query and fragment stay out.
fn base_string_uri(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{}://{host}:{port}{}", url.scheme(), url.path()),
        None => format!("{}://{host}{}", url.scheme(), url.path()),
    }
}

/// Section 3.5.1: `OAuth name="value", ...`. Another scheme is not ours to read, so
/// it contributes nothing; an `OAuth` header that does not follow the grammar is
/// refused, because a lenient reading could sign something the consumer never sent.
fn header_parameters<'a>(
    header: &'a str,
    out: &mut Vec<Parameter<'a>>,
) -> Result<(), OAuthFailure> {
    let header = header.trim_matches(is_whitespace);
    let (scheme, mut rest) = header.split_once(is_whitespace).unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("OAuth") {
        return Ok(());
    }
    let malformed = |why: &str| rejected(format!("malformed OAuth Authorization header: {why}"));
    loop {
        // Empty list elements (`a="1",,b="2"`) are allowed by RFC 7230's list rule.
        rest = rest.trim_start_matches(|c| is_whitespace(c) || c == ',');
        if rest.is_empty() {
            return Ok(());
        }
        let (name, after) = rest
            .split_once('=')
            .ok_or_else(|| malformed("a parameter has no '='"))?;
        let name = name.trim_end_matches(is_whitespace);
        if !is_token(name) {
            return Err(malformed("a parameter name is not a token"));
        }
        let after = after.trim_start_matches(is_whitespace);
        let quoted = after
            .strip_prefix('"')
            .ok_or_else(|| malformed("a value is not quoted"))?;
        let (value, after) = quoted
            .split_once('"')
            .ok_or_else(|| malformed("a quote is not closed"))?;
        rest = after.trim_start_matches(is_whitespace);
        if !rest.is_empty() {
            rest = rest
                .strip_prefix(',')
                .ok_or_else(|| malformed("parameters are not separated by ','"))?;
        }
        // `realm` is an HTTP authentication attribute, not a signed parameter.
        if name == "realm" {
            continue;
        }
        let name =
            decode_cow(name).ok_or_else(|| malformed("a parameter name has a bad escape"))?;
        let value = decode_cow(value).ok_or_else(|| {
            rejected_naming(
                &name,
                format!("the header value of {name} has a bad escape"),
            )
        })?;
        out.push((name, value));
    }
}

fn is_whitespace(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// `application/x-www-form-urlencoded`: `+` is a space, `%XX` an escaped byte.
fn form_parameters<'a>(
    text: &'a str,
    source: &str,
    out: &mut Vec<Parameter<'a>>,
) -> Result<(), OAuthFailure> {
    for pair in text.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = form_decode(name).ok_or_else(|| {
            rejected(format!("a parameter name in the {source} has a bad escape"))
        })?;
        let value = form_decode(value).ok_or_else(|| {
            rejected_naming(
                &name,
                format!("the {source} value of {name} has a bad escape"),
            )
        })?;
        out.push((name, value));
        if out.len() > MAX_PARAMETERS {
            return Err(rejected(format!(
                "more than the {MAX_PARAMETERS} parameters accepted"
            )));
        }
    }
    Ok(())
}

fn form_decode(text: &str) -> Option<Cow<'_, str>> {
    if text.contains('+') {
        decode(&text.replace('+', " ")).map(Cow::Owned)
    } else {
        decode_cow(text)
    }
}

/// Picks out the protocol parameters, checking that each occurs once, that the
/// version is 1.0 and that the required ones are present.
fn protocol_parameters(parameters: &[Parameter<'_>]) -> Result<ProtocolParams, OAuthFailure> {
    let mut found: BTreeMap<&str, &str> = BTreeMap::new();
    let mut duplicated: Vec<&str> = Vec::new();
    for (name, value) in parameters
        .iter()
        .filter(|(name, _)| name.starts_with("oauth_"))
    {
        if found.insert(name, value).is_some() && !duplicated.contains(&name.as_ref()) {
            duplicated.push(name);
        }
    }
    if !duplicated.is_empty() {
        return Err(OAuthFailure::with_parameters(
            Problem::ParameterRejected,
            format!(
                "protocol parameters sent more than once: {}",
                duplicated.join(", ")
            ),
            duplicated,
        ));
    }

    let get = |name: &str| found.get(name).map(|value| (*value).to_owned());

    if let Some(version) = found
        .get("oauth_version")
        .filter(|version| **version != VERSION)
    {
        let mut failure = OAuthFailure::new(
            Problem::VersionRejected,
            format!(
                "oauth_version {:?} is not {VERSION}",
                // Cut short: the detail goes to logs, the value is the consumer's.
                version.chars().take(16).collect::<String>()
            ),
        );
        failure.advice.acceptable_versions = Some(format!("{VERSION}-{VERSION}"));
        return Err(failure);
    }

    let plaintext = found
        .get("oauth_signature_method")
        .and_then(|method| SignatureMethod::parse(method))
        == Some(SignatureMethod::Plaintext);
    let mut required = vec![
        "oauth_consumer_key",
        "oauth_signature_method",
        "oauth_signature",
    ];
    if !plaintext {
        required.extend(["oauth_timestamp", "oauth_nonce"]);
    }
    let absent: Vec<&str> = required
        .into_iter()
        .filter(|name| !found.contains_key(name))
        .collect();
    if !absent.is_empty() {
        return Err(OAuthFailure::with_parameters(
            Problem::ParameterAbsent,
            format!(
                "required protocol parameters missing: {}",
                absent.join(", ")
            ),
            absent,
        ));
    }

    let timestamp = get("oauth_timestamp");
    if let Some(timestamp) = &timestamp {
        let digits = timestamp.len();
        if !(1..=12).contains(&digits) || !timestamp.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(rejected_naming(
                "oauth_timestamp",
                "oauth_timestamp is not a number of seconds",
            ));
        }
    }

    Ok(ProtocolParams {
        consumer_key: get("oauth_consumer_key").unwrap_or_default(),
        signature_method: get("oauth_signature_method").unwrap_or_default(),
        signature: get("oauth_signature").unwrap_or_default(),
        // Some clients send `oauth_token=""` on the request-token call: no token.
        token: get("oauth_token").filter(|token| !token.is_empty()),
        timestamp,
        nonce: get("oauth_nonce"),
        version: get("oauth_version"),
        callback: get("oauth_callback"),
        verifier: get("oauth_verifier"),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::oauth1::encoding::encode;
    use crate::oauth1::signature::verify_hmac_sha1;

    const CONSUMER_SECRET: &str = "kd94hf93k423kf44";

    fn http<'a>(
        method: &'a str,
        url: &'a str,
        authorization: &'a str,
        form_body: &'a str,
    ) -> HttpRequest<'a> {
        HttpRequest {
            method,
            url,
            authorization,
            form_body,
        }
    }

    fn parse(
        method: &str,
        url: &str,
        authorization: &str,
        form_body: &str,
    ) -> Result<OAuthRequest, OAuthFailure> {
        OAuthRequest::parse(&http(method, url, authorization, form_body))
    }

    /// A header with every required parameter, plus `extra`.
    fn header_with(extra: &str) -> String {
        format!(
            "OAuth oauth_consumer_key=\"key\", oauth_signature_method=\"HMAC-SHA1\", \
             oauth_signature=\"c2ln\", oauth_timestamp=\"137131200\", oauth_nonce=\"n\"{extra}"
        )
    }

    fn base_uri_of(url: &str) -> String {
        let parsed = parse("GET", url, &header_with(""), "").unwrap();
        let uri = parsed.base_string.split('&').nth(1).unwrap();
        decode(uri).unwrap()
    }

    const VECTOR_1_HEADER: &str = "OAuth realm=\"Photos\", oauth_consumer_key=\"dpf43f3p2l4k3l03\", \
        oauth_signature_method=\"HMAC-SHA1\", oauth_timestamp=\"137131200\", oauth_nonce=\"wIjqoS\", \
        oauth_callback=\"http%3A%2F%2Fprinter.example.com%2Fready\", \
        oauth_signature=\"74KNZJeDHnMBp0EMJ9ZHt%2FXKycU%3D\"";

    const VECTOR_2_HEADER: &str = "OAuth realm=\"Photos\", oauth_consumer_key=\"dpf43f3p2l4k3l03\", \
        oauth_token=\"hh5s93j4hdidpola\", oauth_signature_method=\"HMAC-SHA1\", \
        oauth_timestamp=\"137131201\", oauth_nonce=\"walatlh\", oauth_verifier=\"hfdp7dh39dks9884\", \
        oauth_signature=\"gKgrFCywp7rO0OXSjdot%2FIHF7IU%3D\"";

    const VECTOR_3_HEADER: &str = "OAuth realm=\"Photos\", oauth_consumer_key=\"dpf43f3p2l4k3l03\", \
        oauth_token=\"nnch734d00sl2jdk\", oauth_signature_method=\"HMAC-SHA1\", \
        oauth_timestamp=\"137131202\", oauth_nonce=\"chapoH\", \
        oauth_signature=\"MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D\"";

    const VECTOR_4_HEADER: &str = "OAuth realm=\"Example\", oauth_consumer_key=\"9djdj82h48djs9d2\", \
        oauth_token=\"kkk9d7dh3k39sjv7\", oauth_signature_method=\"HMAC-SHA1\", \
        oauth_timestamp=\"137131201\", oauth_nonce=\"7d8f3e4a\", \
        oauth_signature=\"bYT5CMsGcbgUdFHObYMEfcx6bsw%3D\"";

    #[test]
    fn rfc_vector_1_temporary_credentials_request_verifies() {
        let request = parse(
            "POST",
            "https://photos.example.net/initiate",
            VECTOR_1_HEADER,
            "",
        )
        .unwrap();
        assert_eq!(
            request.base_string,
            "POST&https%3A%2F%2Fphotos.example.net%2Finitiate&oauth_callback%3Dhttp%253A%252F%252Fprinter.example.com%252Fready%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3DwIjqoS%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131200"
        );
        let protocol = &request.protocol;
        assert_eq!(protocol.consumer_key, "dpf43f3p2l4k3l03");
        assert_eq!(protocol.signature_method, "HMAC-SHA1");
        assert_eq!(protocol.signature, "74KNZJeDHnMBp0EMJ9ZHt/XKycU=");
        assert_eq!(
            protocol.callback.as_deref(),
            Some("http://printer.example.com/ready")
        );
        assert_eq!(protocol.timestamp.as_deref(), Some("137131200"));
        assert_eq!(protocol.nonce.as_deref(), Some("wIjqoS"));
        assert_eq!(protocol.token, None);
        assert!(request.is_https);
        assert!(verify_hmac_sha1(
            &request.base_string,
            CONSUMER_SECRET,
            "",
            &protocol.signature
        ));
    }

    #[test]
    fn rfc_vector_2_token_credentials_request_verifies() {
        let request = parse(
            "POST",
            "https://photos.example.net/token",
            VECTOR_2_HEADER,
            "",
        )
        .unwrap();
        assert_eq!(
            request.base_string,
            "POST&https%3A%2F%2Fphotos.example.net%2Ftoken&oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3Dwalatlh%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dhh5s93j4hdidpola%26oauth_verifier%3Dhfdp7dh39dks9884"
        );
        assert_eq!(request.protocol.token.as_deref(), Some("hh5s93j4hdidpola"));
        assert_eq!(
            request.protocol.verifier.as_deref(),
            Some("hfdp7dh39dks9884")
        );
        assert!(verify_hmac_sha1(
            &request.base_string,
            CONSUMER_SECRET,
            "hdhd0244k9j7ao03",
            &request.protocol.signature
        ));
    }

    #[test]
    fn rfc_vector_3_protected_resource_request_verifies() {
        let request = parse(
            "GET",
            "http://photos.example.net/photos?file=vacation.jpg&size=original",
            VECTOR_3_HEADER,
            "",
        )
        .unwrap();
        assert_eq!(
            request.base_string,
            "GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3DchapoH%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131202%26oauth_token%3Dnnch734d00sl2jdk%26size%3Doriginal"
        );
        assert!(!request.is_https);
        assert!(verify_hmac_sha1(
            &request.base_string,
            CONSUMER_SECRET,
            "pfkkdhi9sl3r4s00",
            &request.protocol.signature
        ));
    }

    #[test]
    fn rfc_vector_4_collects_query_header_and_body_into_one_base_string() {
        let request = parse(
            "POST",
            "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b",
            VECTOR_4_HEADER,
            "c2&a3=2+q",
        )
        .unwrap();
        assert_eq!(
            request.base_string,
            "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
        );
    }

    #[test]
    fn a_lower_case_method_is_upper_cased() {
        let request = parse(
            "post",
            "https://photos.example.net/initiate",
            VECTOR_1_HEADER,
            "",
        )
        .unwrap();
        assert!(request.base_string.starts_with("POST&"));
    }

    #[test]
    fn a_method_that_is_not_a_token_is_rejected() {
        for method in ["", "PO ST", "GET\n"] {
            let failure = parse(method, "https://x/", &header_with(""), "").unwrap_err();
            assert_eq!(failure.problem, Problem::ParameterRejected, "{method:?}");
        }
    }

    #[test]
    fn default_ports_are_dropped_and_scheme_and_host_lower_cased() {
        assert_eq!(
            base_uri_of("HTTP://Example.COM:80/r"),
            "http://example.com/r"
        );
        assert_eq!(base_uri_of("https://x:443/"), "https://x/");
        assert_eq!(
            base_uri_of("HTTPS://Example.com:443/Path/Kept"),
            "https://example.com/Path/Kept"
        );
    }

    #[test]
    fn a_non_default_port_is_kept() {
        assert_eq!(
            base_uri_of("http://example.com:8080/r"),
            "http://example.com:8080/r"
        );
        assert_eq!(
            base_uri_of("https://example.com:80/r"),
            "https://example.com:80/r"
        );
        assert_eq!(
            base_uri_of("http://example.com:443/r"),
            "http://example.com:443/r"
        );
    }

    #[test]
    fn an_empty_path_becomes_a_slash_and_query_and_fragment_are_left_out() {
        assert_eq!(base_uri_of("http://example.com"), "http://example.com/");
        assert_eq!(
            base_uri_of("http://example.com?a=1#frag"),
            "http://example.com/"
        );
        assert_eq!(
            base_uri_of("http://user:pw@example.com/p?q#f"),
            "http://example.com/p"
        );
    }

    #[test]
    fn relative_unparseable_and_non_http_urls_are_rejected_naming_url() {
        for url in [
            "/initiate",
            "",
            "not a url",
            "ftp://example.com/",
            "mailto:a@b.c",
            "http://",
        ] {
            let failure = parse("GET", url, &header_with(""), "").unwrap_err();
            assert_eq!(failure.problem, Problem::ParameterRejected, "{url:?}");
            assert_eq!(failure.advice.parameters, ["url"], "{url:?}");
        }
    }

    #[test]
    fn a_nonce_in_both_header_and_query_is_rejected_naming_it() {
        let failure =
            parse("GET", "https://x/?oauth_nonce=other", &header_with(""), "").unwrap_err();
        assert_eq!(failure.problem, Problem::ParameterRejected);
        assert_eq!(failure.advice.parameters, ["oauth_nonce"]);
    }

    #[test]
    fn a_protocol_parameter_twice_in_the_body_is_rejected() {
        let failure = parse(
            "POST",
            "https://x/",
            &header_with(""),
            "oauth_verifier=a&oauth_verifier=b",
        )
        .unwrap_err();
        assert_eq!(failure.problem, Problem::ParameterRejected);
        assert_eq!(failure.advice.parameters, ["oauth_verifier"]);
    }

    #[test]
    fn a_repeated_ordinary_parameter_is_allowed_and_sorted_by_value() {
        let request = parse("GET", "https://x/?a=2&a=1", &header_with(""), "a=10").unwrap();
        assert!(
            request.base_string.contains("a%3D1%26a%3D10%26a%3D2%26"),
            "{}",
            request.base_string
        );
    }

    #[test]
    fn missing_parameters_are_all_named() {
        let failure = parse(
            "GET",
            "https://x/",
            "OAuth oauth_signature_method=\"HMAC-SHA1\"",
            "",
        )
        .unwrap_err();
        assert_eq!(failure.problem, Problem::ParameterAbsent);
        assert_eq!(
            failure.advice.parameters,
            [
                "oauth_consumer_key",
                "oauth_signature",
                "oauth_timestamp",
                "oauth_nonce"
            ]
        );
    }

    #[test]
    fn a_request_with_no_oauth_parameters_at_all_names_every_required_one() {
        let failure = parse("GET", "https://x/", "Basic dXNlcjpwdw==", "").unwrap_err();
        assert_eq!(failure.problem, Problem::ParameterAbsent);
        assert_eq!(
            failure.advice.parameters,
            [
                "oauth_consumer_key",
                "oauth_signature_method",
                "oauth_signature",
                "oauth_timestamp",
                "oauth_nonce"
            ]
        );
    }

    #[test]
    fn parameters_may_come_from_the_query_alone_when_another_scheme_holds_the_header() {
        let url = "https://x/?oauth_consumer_key=k&oauth_signature_method=PLAINTEXT&oauth_signature=a%26b";
        let request = parse("GET", url, "Bearer abc", "").unwrap();
        assert_eq!(request.protocol.consumer_key, "k");
        assert_eq!(request.protocol.signature, "a&b");
    }

    #[test]
    fn a_version_other_than_1_0_is_rejected_with_the_acceptable_range() {
        let failure = parse(
            "GET",
            "https://x/",
            &header_with(", oauth_version=\"2.0\""),
            "",
        )
        .unwrap_err();
        assert_eq!(failure.problem, Problem::VersionRejected);
        assert_eq!(
            failure.advice.acceptable_versions.as_deref(),
            Some("1.0-1.0")
        );
    }

    #[test]
    fn version_1_0_is_accepted_and_kept() {
        let request = parse(
            "GET",
            "https://x/",
            &header_with(", oauth_version=\"1.0\""),
            "",
        )
        .unwrap();
        assert_eq!(request.protocol.version.as_deref(), Some("1.0"));
    }

    #[test]
    fn malformed_oauth_headers_are_rejected() {
        let headers = [
            "OAuth oauth_consumer_key=key",
            "OAuth oauth_consumer_key=\"key",
            "OAuth oauth_consumer_key",
            "OAuth oauth_consumer_key=\"a\" oauth_nonce=\"b\"",
            "OAuth =\"a\"",
            "OAuth oauth consumer=\"a\"",
            "OAuth oauth_consumer_key=\"%zz\"",
            "OAuth oauth_consumer_key=\"%FF\"",
            "oauth oauth_nonce=\"a\", junk",
        ];
        for header in headers {
            let failure = parse("GET", "https://x/", header, "").unwrap_err();
            assert_eq!(failure.problem, Problem::ParameterRejected, "{header}");
        }
    }

    #[test]
    fn header_scheme_is_case_insensitive_and_whitespace_is_optional() {
        let header = "oAuTh  oauth_consumer_key = \"key\",oauth_signature_method=\"PLAINTEXT\" ,\t\
                      oauth_signature=\"a%26b\",";
        let request = parse("GET", "https://x/", header, "").unwrap();
        assert_eq!(request.protocol.consumer_key, "key");
        assert_eq!(request.protocol.signature, "a&b");
    }

    #[test]
    fn plaintext_needs_no_timestamp_or_nonce() {
        let header = "OAuth oauth_consumer_key=\"key\", oauth_signature_method=\"PLAINTEXT\", \
                      oauth_signature=\"secret%26\"";
        let request = parse("POST", "https://x/initiate", header, "").unwrap();
        assert_eq!(request.protocol.signature, "secret&");
        assert_eq!(request.protocol.timestamp, None);
        assert_eq!(request.protocol.nonce, None);
    }

    #[test]
    fn a_timestamp_that_is_not_digits_is_rejected_naming_it() {
        for timestamp in ["", "12a", "-1", "1.5", "1234567890123", " 1"] {
            let header = format!(
                "OAuth oauth_consumer_key=\"k\", oauth_signature_method=\"HMAC-SHA1\", \
                 oauth_signature=\"s\", oauth_nonce=\"n\", oauth_timestamp=\"{}\"",
                encode(timestamp)
            );
            let failure = parse("GET", "https://x/", &header, "").unwrap_err();
            assert_eq!(failure.problem, Problem::ParameterRejected, "{timestamp:?}");
            assert_eq!(failure.advice.parameters, ["oauth_timestamp"]);
        }
    }

    #[test]
    fn an_empty_token_counts_as_no_token_but_is_still_signed() {
        let request = parse("POST", "https://x/", &header_with(", oauth_token=\"\""), "").unwrap();
        assert_eq!(request.protocol.token, None);
        assert!(request.base_string.contains("oauth_token%3D"));
    }

    #[test]
    fn body_parameters_are_decoded_as_the_base_string_reads_them() {
        let parameters = form_body_parameters("a=b+c&d=%41&e").unwrap();
        let expected = [("a", "b c"), ("d", "A"), ("e", "")].map(|(n, v)| (n.into(), v.into()));
        assert_eq!(parameters, expected);
        let failure = form_body_parameters("a=%zz").unwrap_err();
        assert_eq!(failure.problem, Problem::ParameterRejected);
    }

    #[test]
    fn malformed_form_encoding_is_rejected() {
        let failure = parse("POST", "https://x/", &header_with(""), "a=%zz").unwrap_err();
        assert_eq!(failure.problem, Problem::ParameterRejected);
        assert_eq!(failure.advice.parameters, ["a"]);
        let failure = parse("GET", "https://x/?a%=1", &header_with(""), "").unwrap_err();
        assert_eq!(failure.problem, Problem::ParameterRejected);
    }

    #[test]
    fn oversized_input_is_rejected() {
        let big = "a".repeat(MAX_FIELD_BYTES + 1);
        let failure = parse("POST", "https://x/", &header_with(""), &big).unwrap_err();
        assert_eq!(failure.problem, Problem::ParameterRejected);
        let failure = parse("POST", "https://x/", &format!("OAuth a=\"{big}\""), "").unwrap_err();
        assert_eq!(failure.problem, Problem::ParameterRejected);
        let many = vec!["a=1"; MAX_PARAMETERS + 1].join("&");
        let failure = parse("POST", "https://x/", &header_with(""), &many).unwrap_err();
        assert_eq!(failure.problem, Problem::ParameterRejected);
    }

    #[test]
    fn odd_input_never_panics() {
        let inputs = [
            "",
            "\"",
            "=",
            ",",
            "%",
            "é",
            "OAuth",
            "OAuth ",
            "OAuth \"",
            "OAuth a=\"é\"",
            "OAuth é=\"1\"",
        ];
        for header in inputs {
            for body in inputs {
                let _ = parse("GET", "http://é.example/é?é=%", header, body);
                let _ = parse("é", "http://[::1]:99/", header, body);
            }
        }
    }
}
