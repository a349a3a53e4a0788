//! A gRPC connection as tonic serves it: holding its slot under the listener's cap,
//! and closed if the client sends nothing at all within the first-byte timeout.
//!
//! tonic has no timeout before a client's first bytes, so a connection that opens
//! and stays silent would hold a socket and a slot until the maximum connection age.
//! HTTP/2 pings cover a connection once it speaks HTTP/2; this covers the moment
//! before. Once a byte has come the clock is gone, and the stream is the plain one.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Sleep;
use tonic::transport::server::Connected;

/// `S`, cut if no byte arrives within its deadline, and holding `slot` while open.
pub struct FirstByteDeadline<S> {
    inner: S,
    deadline: Option<Pin<Box<Sleep>>>,
    _slot: Option<OwnedSemaphorePermit>,
}

impl<S> FirstByteDeadline<S> {
    /// `inner`, which must send its first byte within `timeout`.
    pub fn new(inner: S, timeout: Duration, slot: Option<OwnedSemaphorePermit>) -> Self {
        Self {
            inner,
            deadline: Some(Box::pin(tokio::time::sleep(timeout))),
            _slot: slot,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for FirstByteDeadline<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.deadline = None;
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                let expired = this
                    .deadline
                    .as_mut()
                    .is_some_and(|deadline| deadline.as_mut().poll(cx).is_ready());
                if expired {
                    Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client sent nothing within the first-byte timeout",
                    )))
                } else {
                    Poll::Pending
                }
            }
            other => other,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FirstByteDeadline<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl<S: Connected> Connected for FirstByteDeadline<S> {
    type ConnectInfo = S::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(start_paused = true)]
    async fn a_silent_peer_is_cut_at_the_deadline() {
        let (ours, _theirs) = tokio::io::duplex(64);
        let mut guarded = FirstByteDeadline::new(ours, Duration::from_secs(10), None);
        let mut byte = [0u8; 1];
        let error = guarded.read(&mut byte).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test(start_paused = true)]
    async fn once_a_byte_has_come_the_peer_may_pause_past_the_deadline() {
        let (ours, mut theirs) = tokio::io::duplex(64);
        let mut guarded = FirstByteDeadline::new(ours, Duration::from_secs(10), None);
        theirs.write_all(b"P").await.unwrap();
        let mut byte = [0u8; 1];
        guarded.read_exact(&mut byte).await.unwrap();
        let late = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(60)).await;
            theirs.write_all(b"R").await.unwrap();
            theirs
        });
        guarded.read_exact(&mut byte).await.unwrap();
        assert_eq!(&byte, b"R");
        drop(late.await.unwrap());
    }
}
