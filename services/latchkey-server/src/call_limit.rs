//! The cap on Latchkey calls in flight, which refuses at once instead of queueing.
//!
//! A queue in front of the handlers only moves the waiting elsewhere: under a flood it
//! fills, every caller behind it misses its deadline, and the backlog outlives the
//! flood. So a call beyond the cap is answered `RESOURCE_EXHAUSTED` at once, and a
//! well-behaved client retries with backoff. The cap wraps the Latchkey services only:
//! health and reflection stay outside it, so probes answer whatever the load.

use axum::http;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::Semaphore;
use tonic::body::Body;
use tonic::server::NamedService;

/// One set of permits shared by every service it wraps.
#[derive(Debug, Clone)]
pub struct CallPermits(Arc<Semaphore>);

impl CallPermits {
    /// `limit` calls in flight at once (at least one).
    pub fn new(limit: usize) -> Self {
        Self(Arc::new(Semaphore::new(
            limit.clamp(1, Semaphore::MAX_PERMITS),
        )))
    }

    /// `service`, refusing calls beyond the shared cap.
    pub fn wrap<S>(&self, service: S) -> CallLimit<S> {
        CallLimit {
            inner: service,
            permits: self.0.clone(),
        }
    }
}

/// A service whose calls each hold a permit while they run.
#[derive(Debug, Clone)]
pub struct CallLimit<S> {
    inner: S,
    permits: Arc<Semaphore>,
}

impl<S: NamedService> NamedService for CallLimit<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> tower::Service<http::Request<B>> for CallLimit<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        match self.permits.clone().try_acquire_owned() {
            Ok(permit) => {
                let call = self.inner.call(request);
                Box::pin(async move {
                    let answer = call.await;
                    drop(permit);
                    answer
                })
            }
            Err(_) => {
                let status = tonic::Status::resource_exhausted(
                    "too many calls in flight on this replica; retry with backoff",
                );
                Box::pin(std::future::ready(Ok(status.into_http())))
            }
        }
    }
}
