//! The one place that waits for the signal to stop: SIGTERM (Kubernetes) or Ctrl-C,
//! and hands it on to everything that runs until then.

use tokio::sync::watch;

/// Completes on SIGTERM or Ctrl-C.
pub async fn signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("stopping: finishing in-flight calls");
}

/// A stop signal every server can wait on; clone one for each.
#[derive(Clone)]
pub struct Stopping(watch::Receiver<bool>);

impl Stopping {
    /// Completes once the stop has come (or its relay is gone).
    pub async fn stopped(mut self) {
        let _ = self.0.wait_for(|stopped| *stopped).await;
    }
}

/// Turns one `stop` future into a relay, to be awaited beside the servers, and the
/// [`Stopping`] they wait on.
pub fn relay(stop: impl Future<Output = ()>) -> (impl Future<Output = ()>, Stopping) {
    let (sender, receiver) = watch::channel(false);
    let relay = async move {
        stop.await;
        let _ = sender.send(true);
    };
    (relay, Stopping(receiver))
}
