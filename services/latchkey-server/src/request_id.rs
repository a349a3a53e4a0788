//! A request id for every gRPC call and HTTP request: the caller's `x-request-id` when
//! it sends a sensible one, a fresh UUID otherwise. The id is the `request_id` field of
//! a span around the call, so every log line of the call carries it, and it goes back
//! to the caller in the `x-request-id` response header (gRPC metadata), so a client
//! can quote it when reporting a problem.

use axum::http::{HeaderName, HeaderValue, Request, Response};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tracing::Instrument;

/// The header, in requests and responses.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest caller-chosen id kept; a longer or odd one is replaced.
const MAX_LENGTH: usize = 128;

/// Adds request ids; see the module documentation.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestIdLayer;

impl<S> tower::Layer<S> for RequestIdLayer {
    type Service = RequestId<S>;

    fn layer(&self, inner: S) -> RequestId<S> {
        RequestId { inner }
    }
}

/// The service [`RequestIdLayer`] makes.
#[derive(Debug, Clone)]
pub struct RequestId<S> {
    inner: S,
}

impl<S, B, R> tower::Service<Request<B>> for RequestId<S>
where
    S: tower::Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<R>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let value = request
            .headers()
            .get(&REQUEST_ID)
            .filter(|value| acceptable(value.as_bytes()))
            .cloned()
            .unwrap_or_else(fresh);
        request.headers_mut().insert(REQUEST_ID, value.clone());
        let span = tracing::info_span!(
            "request",
            request_id = %String::from_utf8_lossy(value.as_bytes())
        );
        let response = span.in_scope(|| self.inner.call(request)).instrument(span);
        Box::pin(async move {
            let mut response = response.await?;
            response.headers_mut().insert(REQUEST_ID, value);
            Ok(response)
        })
    }
}

/// Letters, digits and `-_.:`, at most [`MAX_LENGTH`]: safe to log and to echo.
fn acceptable(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LENGTH
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
}

fn fresh() -> HeaderValue {
    let id = uuid::Uuid::new_v4().to_string();
    // A UUID's text is always a valid header value.
    HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("unknown"))
}

#[cfg(test)]
mod tests {
    use super::acceptable;

    #[test]
    fn only_short_plain_ids_are_kept() {
        assert!(acceptable(b"3f2a-b7.c_d:1"));
        assert!(!acceptable(b""));
        assert!(!acceptable(b"has space"));
        assert!(!acceptable(b"line\nbreak"));
        assert!(!acceptable(&[b'a'; 129]));
    }
}
