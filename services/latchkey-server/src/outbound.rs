//! Latchkey's outbound fetches: reading another application's consumer-info document
//! to add it as a consumer by URL, as Jira's "Consumers" tab does.
//!
//! A fetch goes where an administrator points it, so it is bounded like every other
//! expensive step: a few at a time (refused at once past that), a short connect
//! timeout and a short total timeout, a cap on the bytes read, and redirects followed
//! only within the same host (a redirect elsewhere is refused, so a URL cannot be
//! bounced into another network). The document itself is read by the core
//! ([`ConsumerInfo::parse`]).

use latchkey_core::AuthorityError;
use latchkey_core::oauth1::consumer_info::{CONSUMER_INFO_PATH, ConsumerInfo, MAX_DOCUMENT_BYTES};
use latchkey_core::oauth1::consumer_rules::parse_absolute_http_url;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Fetches at once; past this a fetch is refused at once as saturated.
const CONCURRENT_FETCHES: usize = 4;
/// How long a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a whole fetch may take, redirects and body included.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Redirects followed, all within the first URL's host.
const MAX_REDIRECTS: usize = 3;

/// The field a consumer-info URL arrives in.
const FIELD: &str = "consumer_info_url";

/// The bounded HTTP client outbound fetches go through.
#[derive(Debug, Clone)]
pub struct Outbound {
    client: reqwest::Client,
    permits: Arc<Semaphore>,
}

impl Outbound {
    /// A client with the bounds above.
    pub fn new() -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                let first_host = attempt.previous().first().and_then(|url| url.host_str());
                if attempt.previous().len() > MAX_REDIRECTS {
                    attempt.error("too many redirects")
                } else if attempt.url().host_str() != first_host {
                    // Handed back as the 3xx response, refused below.
                    attempt.stop()
                } else {
                    attempt.follow()
                }
            }))
            .build()?;
        Ok(Self {
            client,
            permits: Arc::new(Semaphore::new(CONCURRENT_FETCHES)),
        })
    }

    /// The consumer-info document of the application at `url`: its base URL, or the
    /// document's own URL. Every failure is an error an administrator can act on:
    /// `INVALID_ARGUMENT` naming `consumer_info_url` for a URL or document that cannot
    /// work, `UNAVAILABLE` when the host did not answer in time or as expected.
    pub async fn consumer_info(&self, url: &str) -> Result<ConsumerInfo, AuthorityError> {
        let invalid = |detail: String| AuthorityError::invalid(FIELD, detail);
        let base = parse_absolute_http_url(url.trim()).map_err(invalid)?;
        let target = if base.path().ends_with(CONSUMER_INFO_PATH) {
            base
        } else {
            let path = format!("{}{CONSUMER_INFO_PATH}", base.path().trim_end_matches('/'));
            let mut target = base;
            target.set_path(&path);
            target.set_query(None);
            target
        };
        let _permit = self
            .permits
            .try_acquire()
            .map_err(|_| AuthorityError::Saturated {
                detail: "too many consumer-info fetches at once".into(),
            })?;
        let unavailable = |detail: String| AuthorityError::Upstream {
            detail: format!("{target} could not be fetched: {detail}"),
        };
        let mut response = self
            .client
            .get(target.clone())
            .header(reqwest::header::ACCEPT, "application/xml, text/xml")
            .send()
            .await
            .map_err(|e| unavailable(without_url(&e)))?;
        let status = response.status();
        if status.is_redirection() {
            return Err(invalid(format!(
                "{target} redirects to another host, which is not followed"
            )));
        }
        if !status.is_success() {
            return Err(unavailable(format!("it answered {status}")));
        }
        if response
            .content_length()
            .is_some_and(|length| length > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(invalid(format!(
                "the document is larger than {MAX_DOCUMENT_BYTES} bytes"
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| unavailable(without_url(&e)))?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(invalid(format!(
                    "the document is larger than {MAX_DOCUMENT_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        let text = String::from_utf8(body)
            .map_err(|_| invalid("the document is not UTF-8 text".into()))?;
        ConsumerInfo::parse(&text).map_err(|e| invalid(e.to_string()))
    }
}

/// A fetch error's text without the URL it names (the caller names it once).
fn without_url(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return format!("no answer within {} s", FETCH_TIMEOUT.as_secs());
    }
    if error.is_connect() {
        return "the connection failed".into();
    }
    if error.is_redirect() {
        return format!("more than {MAX_REDIRECTS} redirects");
    }
    if error.is_body() || error.is_decode() {
        return "the answer broke off".into();
    }
    "the request failed".into()
}
