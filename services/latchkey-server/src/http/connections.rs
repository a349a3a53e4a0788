//! One HTTP connection, served under time limits on every phase of its life.
//!
//! The request timeout in front of the handlers starts only once a request's line and
//! headers are in. On its own it leaves a client free to dribble them a byte at a
//! time, or to hold a kept-alive connection open with nothing to say, for as long as
//! it likes. So each connection here is always under one clock:
//!
//! - **head**: the request line and headers must be in within
//!   `http.header_read_timeout_seconds`, counted from the connection's start (after
//!   the TLS handshake, which has its own limit) or, on a kept-alive connection, from
//!   the next request's first byte;
//! - **serving**: from the head to the end of the answer this clock stops and the
//!   router's request timeout applies;
//! - **idle**: after an answer, the next request's first byte must come within
//!   `http.idle_timeout_seconds`.
//!
//! A connection whose clock runs out is closed. These are the limits Go's `net/http`
//! server draws (`ReadHeaderTimeout`, `IdleTimeout`). hyper's own
//! `header_read_timeout` is not used: it restarts the moment a kept-alive connection
//! goes idle, so it would also be the idle limit, and a header limit of a few
//! seconds would close the idle connections a proxy in front expects to reuse.

use crate::tls::Admitted;
use axum::Router;
use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::Watcher;
use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

/// The time limits every connection is served under.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// See `http.header_read_timeout_seconds`.
    pub(crate) header_read: Duration,
    /// See `http.idle_timeout_seconds`.
    pub(crate) idle: Duration,
}

/// Serves one connection on a task of its own until it closes, its clock runs out or
/// the graceful shutdown that `watcher` belongs to has closed it. The connection's
/// slot under the cap is freed when the task ends.
pub(crate) fn spawn<S>(connection: Admitted<S>, router: Router, limits: Limits, watcher: Watcher)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Admitted { stream, peer, slot } = connection;
    let clock = Arc::new(Clock::new(limits));
    let stream = TokioIo::new(Timed::new(stream, clock.clone()));
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let serving = Serving::start(&clock);
        let answer = router.clone().oneshot(request.map(Body::new));
        async move {
            let answer = answer.await?;
            Ok::<_, Infallible>(answer.map(|body| Held {
                body,
                _serving: serving,
            }))
        }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        // The clock above replaces it (see the module comment); without this hyper
        // would also want a timer for its 30 s default.
        .header_read_timeout(None)
        .serve_connection(stream, service);
    let connection = watcher.watch(connection);
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%peer, %error, "HTTP connection closed");
        }
        drop(slot);
    });
}

/// Where a connection stands, and so which limit applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for a request line and headers, until the instant.
    Head(Instant),
    /// Kept alive with nothing received since the last answer, until the instant.
    Idle(Instant),
    /// This many requests are being answered; the request timeout applies.
    Serving(usize),
}

impl Phase {
    fn deadline(self) -> Option<Instant> {
        match self {
            Phase::Head(deadline) | Phase::Idle(deadline) => Some(deadline),
            Phase::Serving(_) => None,
        }
    }
}

/// One connection's clock, shared by its stream (which reads it) and its requests
/// (which stop and restart it). Both live on the connection's task, so the lock is
/// never contended.
#[derive(Debug)]
struct Clock {
    limits: Limits,
    state: Mutex<ClockState>,
}

#[derive(Debug)]
struct ClockState {
    phase: Phase,
    /// The read that found no deadline to wait for: woken when an answer ends, so
    /// the idle limit starts to count even though no byte arrives.
    reader: Option<Waker>,
}

impl Clock {
    fn new(limits: Limits) -> Clock {
        Clock {
            limits,
            state: Mutex::new(ClockState {
                phase: Phase::Head(Instant::now() + limits.header_read),
                reader: None,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, ClockState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn phase(&self) -> Phase {
        self.state().phase
    }

    /// Bytes came in: on an idle connection, a request has begun.
    fn received(&self) {
        let mut state = self.state();
        if let Phase::Idle(_) = state.phase {
            state.phase = Phase::Head(Instant::now() + self.limits.header_read);
        }
    }

    /// Remembers who to wake when a deadline appears.
    fn wake_on_deadline(&self, reader: &Waker) {
        self.state().reader = Some(reader.clone());
    }
}

/// Holds a connection in the serving phase from a request's head to the end of its
/// answer.
#[derive(Debug)]
struct Serving(Arc<Clock>);

impl Serving {
    fn start(clock: &Arc<Clock>) -> Serving {
        let mut state = clock.state();
        state.phase = match state.phase {
            Phase::Serving(requests) => Phase::Serving(requests + 1),
            Phase::Head(_) | Phase::Idle(_) => Phase::Serving(1),
        };
        Serving(clock.clone())
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.phase = match state.phase {
            Phase::Serving(requests) if requests > 1 => Phase::Serving(requests - 1),
            _ => Phase::Idle(Instant::now() + self.0.limits.idle),
        };
        if let Some(reader) = state.reader.take() {
            reader.wake();
        }
    }
}

/// An answer's body, keeping its connection in the serving phase until hyper has
/// taken all of it.
struct Held {
    body: Body,
    _serving: Serving,
}

impl http_body::Body for Held {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A connection's stream whose reads fail once the connection's clock has run out,
/// which makes hyper close the connection.
struct Timed<S> {
    stream: S,
    clock: Arc<Clock>,
    alarm: Pin<Box<Sleep>>,
}

impl<S> Timed<S> {
    fn new(stream: S, clock: Arc<Clock>) -> Timed<S> {
        let alarm = Box::pin(tokio::time::sleep(Duration::ZERO));
        Timed {
            stream,
            clock,
            alarm,
        }
    }
}

fn out_of_time(phase: Phase) -> io::Error {
    let what = match phase {
        Phase::Idle(_) => "no new request within the idle timeout",
        _ => "request headers not in within the header read timeout",
    };
    io::Error::new(io::ErrorKind::TimedOut, what)
}

impl<S: AsyncRead + Unpin> AsyncRead for Timed<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let phase = this.clock.phase();
        // Checked before reading too, so a client that keeps bytes coming cannot
        // outrun the deadline.
        if phase
            .deadline()
            .is_some_and(|deadline| Instant::now() >= deadline)
        {
            return Poll::Ready(Err(out_of_time(phase)));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.clock.received();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => match phase.deadline() {
                Some(deadline) => {
                    if this.alarm.deadline() != deadline {
                        this.alarm.as_mut().reset(deadline);
                    }
                    match this.alarm.as_mut().poll(cx) {
                        Poll::Ready(()) => Poll::Ready(Err(out_of_time(phase))),
                        Poll::Pending => Poll::Pending,
                    }
                }
                None => {
                    this.clock.wake_on_deadline(cx.waker());
                    Poll::Pending
                }
            },
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Timed<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

    const LIMITS: Limits = Limits {
        header_read: Duration::from_secs(5),
        idle: Duration::from_secs(60),
    };

    fn timed() -> (
        Timed<tokio::io::DuplexStream>,
        tokio::io::DuplexStream,
        Arc<Clock>,
    ) {
        let (server, client) = duplex(1024);
        let clock = Arc::new(Clock::new(LIMITS));
        (Timed::new(server, clock.clone()), client, clock)
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_sends_nothing_is_cut_at_the_header_deadline() {
        let (mut server, _client, _) = timed();
        let started = Instant::now();
        let error = server.read(&mut [0; 16]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), LIMITS.header_read);
    }

    #[tokio::test(start_paused = true)]
    async fn bytes_that_keep_coming_do_not_move_the_header_deadline() {
        let (mut server, mut client, _) = timed();
        let started = Instant::now();
        let dribble = tokio::spawn(async move {
            while client.write_all(b"G").await.is_ok() {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        let error = loop {
            match server.read(&mut [0; 16]).await {
                Ok(_) => continue,
                Err(error) => break error,
            }
        };
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() <= LIMITS.header_read + Duration::from_millis(500));
        dribble.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_being_answered_stops_the_clock_and_its_end_starts_the_idle_one() {
        let (mut server, mut client, clock) = timed();
        let serving = Serving::start(&clock);
        // Far past the header deadline, the connection still waits while it is served.
        let waited = tokio::time::timeout(LIMITS.header_read * 10, server.read(&mut [0; 16])).await;
        assert!(waited.is_err(), "no deadline while serving");

        // The end of the answer wakes the waiting read, which now counts the idle limit.
        let ended = Instant::now();
        let read = tokio::spawn(async move { server.read(&mut [0; 16]).await });
        tokio::task::yield_now().await;
        drop(serving);
        let error = match tokio::time::timeout(LIMITS.idle * 2, read).await {
            Ok(Ok(Err(error))) => error,
            outcome => panic!("the idle connection was not cut: {outcome:?}"),
        };
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(ended.elapsed(), LIMITS.idle);
        client.shutdown().await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_first_byte_on_an_idle_connection_gives_the_request_the_header_limit() {
        let (mut server, mut client, clock) = timed();
        drop(Serving::start(&clock));
        tokio::time::sleep(LIMITS.idle / 2).await;
        client.write_all(b"G").await.unwrap();
        assert_eq!(server.read(&mut [0; 16]).await.unwrap(), 1);
        let begun = Instant::now();
        let error = server.read(&mut [0; 16]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(begun.elapsed(), LIMITS.header_read);
    }
}
