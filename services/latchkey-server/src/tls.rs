//! TLS for the gRPC and HTTP listeners, with rustls (ring), and mutual TLS when a
//! client CA is configured.
//!
//! Both listeners share one [`ServerConfig`]. Its certificate comes from a resolver
//! that a background task refreshes when the certificate or key file changes (checked
//! every `tls.reload_interval_seconds`), so a renewed certificate (cert-manager
//! rewriting a mounted Secret, say) serves new connections without a restart. A pair
//! that fails to load is logged and the previous one kept. The client CA is read once
//! at start-up: changing it needs a rolling restart.
//!
//! Handshakes run in their own tasks, so a slow or silent client cannot hold up the
//! accept loop; a connection that has not finished its handshake within
//! [`HANDSHAKE_TIMEOUT`] is dropped.
//!
//! [`Admission`] is what every accepted TCP connection goes through first, with TLS
//! or without: a slot under the listener's connection cap (held until the
//! connection closes, its handshake included) and the TCP options both listeners
//! set.

use crate::config::TlsConfig;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, SystemTime};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};
use tokio_rustls::server::TlsStream;

/// How long a client has to complete its handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The configured file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file holds no usable PEM, or the key does not match the certificate.
    #[error("{0}")]
    Invalid(String),
}

/// The server side of TLS for both listeners.
#[derive(Clone)]
pub struct Tls {
    config: Arc<ServerConfig>,
}

impl Tls {
    /// Loads the configured files; `None` when TLS is off.
    pub fn from_config(config: &TlsConfig) -> Result<Option<Tls>, TlsError> {
        let (Some(cert_file), Some(key_file)) = (&config.cert_file, &config.key_file) else {
            return Ok(None);
        };
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let resolver = Arc::new(ReloadingCert {
            current: RwLock::new(load_pair(cert_file, key_file, &provider)?),
        });
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Invalid(e.to_string()))?;
        let builder = match &config.client_ca_file {
            Some(ca_file) => {
                let mut roots = RootCertStore::empty();
                for cert in certificates(ca_file)? {
                    roots
                        .add(cert)
                        .map_err(|e| TlsError::Invalid(format!("{}: {e}", ca_file.display())))?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()
                        .map_err(|e| TlsError::Invalid(format!("{}: {e}", ca_file.display())))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut server = builder.with_cert_resolver(resolver.clone());
        // gRPC needs HTTP/2; HTTP/1.1 serves gRPC-Web and the OAuth endpoints.
        server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        if config.reload_interval_seconds > 0 {
            tokio::spawn(watch(
                Arc::downgrade(&resolver),
                cert_file.clone(),
                key_file.clone(),
                provider,
                Duration::from_secs(config.reload_interval_seconds),
            ));
        }
        Ok(Some(Tls {
            config: Arc::new(server),
        }))
    }

    /// The same settings offering only HTTP/1.1 (the OAuth listener speaks nothing
    /// else).
    pub fn http1_only(&self) -> Tls {
        let mut config = (*self.config).clone();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Tls {
            config: Arc::new(config),
        }
    }

    /// Accepts TCP connections on `listener` as `admission` says and yields those
    /// whose handshake succeeded. The accept loop ends when the receiver is dropped.
    pub fn incoming(
        &self,
        listener: TcpListener,
        admission: Admission,
    ) -> mpsc::Receiver<Admitted<TlsStream<TcpStream>>> {
        let (sender, receiver) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(self.config.clone());
        tokio::spawn(async move {
            loop {
                let tcp = tokio::select! {
                    () = sender.closed() => return,
                    tcp = admission.accept(&listener) => tcp,
                };
                let acceptor = acceptor.clone();
                let sender = sender.clone();
                tokio::spawn(async move {
                    let Admitted { stream, peer, slot } = tcp;
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            let _ = sender.send(Admitted { stream, peer, slot }).await;
                        }
                        Ok(Err(error)) => {
                            tracing::debug!(%peer, %error, "TLS handshake failed")
                        }
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        receiver
    }
}

/// How a listener takes each TCP connection: under its connection cap, with the TCP
/// options set.
#[derive(Clone, Default)]
pub struct Admission {
    /// One permit per connection served at once; `None`: no cap. With none free, the
    /// listener accepts nothing, so new connections wait in the kernel's listen
    /// queue rather than being refused.
    slots: Option<Arc<Semaphore>>,
    /// Idle time before TCP keep-alive probes; `None` keeps the system's setting.
    tcp_keepalive: Option<Duration>,
}

/// A connection taken off a listener, with its slot under the cap.
pub struct Admitted<S> {
    /// The connection.
    pub stream: S,
    /// Who connected.
    pub peer: SocketAddr,
    /// Frees the connection's slot when dropped; keep it as long as the connection.
    pub slot: Option<OwnedSemaphorePermit>,
}

impl Admission {
    /// At most `max_connections` at once.
    pub fn capped(max_connections: usize) -> Admission {
        Admission {
            slots: Some(Arc::new(Semaphore::new(max_connections))),
            tcp_keepalive: None,
        }
    }

    /// TCP keep-alive probes after `idle`.
    pub fn with_tcp_keepalive(mut self, idle: Duration) -> Admission {
        self.tcp_keepalive = Some(idle);
        self
    }

    /// Waits for a free slot, then for a connection, and sets its TCP options.
    pub async fn accept(&self, listener: &TcpListener) -> Admitted<TcpStream> {
        let slot = match &self.slots {
            // The semaphore is never closed, so the permit always comes.
            Some(slots) => slots.clone().acquire_owned().await.ok(),
            None => None,
        };
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => {
                    self.prepare(&stream);
                    return Admitted { stream, peer, slot };
                }
                Err(error) => {
                    // Out of file descriptors, say: back off rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    /// Sets the TCP options on a connection accepted elsewhere.
    pub fn prepare(&self, stream: &TcpStream) {
        send_small_writes_at_once(stream);
        if let Some(idle) = self.tcp_keepalive {
            let keepalive = socket2::TcpKeepalive::new().with_time(idle);
            if let Err(error) = socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive) {
                tracing::debug!(%error, "could not set TCP keep-alive");
            }
        }
    }
}

/// The certificate in use, swapped by [`watch`].
#[derive(Debug)]
struct ReloadingCert {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        )
    }
}

/// Reloads the pair when either file's modification time changes, until the
/// resolver is gone.
async fn watch(
    resolver: Weak<ReloadingCert>,
    cert_file: PathBuf,
    key_file: PathBuf,
    provider: Arc<CryptoProvider>,
    every: Duration,
) {
    let stamp = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let mut seen: (Option<SystemTime>, Option<SystemTime>) = (stamp(&cert_file), stamp(&key_file));
    loop {
        tokio::time::sleep(every).await;
        let Some(resolver) = resolver.upgrade() else {
            return;
        };
        let now = (stamp(&cert_file), stamp(&key_file));
        if now == seen {
            continue;
        }
        match load_pair(&cert_file, &key_file, &provider) {
            Ok(pair) => {
                *resolver.current.write().unwrap_or_else(|p| p.into_inner()) = pair;
                seen = now;
                tracing::info!(cert_file = %cert_file.display(), "TLS certificate reloaded");
            }
            // Half-written files (the certificate renewed, the key not yet): try again
            // at the next check.
            Err(error) => {
                tracing::warn!(%error, "TLS certificate not reloaded; keeping the previous one")
            }
        }
    }
}

fn load_pair(
    cert_file: &Path,
    key_file: &Path,
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, TlsError> {
    let chain = certificates(cert_file)?;
    let key = PrivateKeyDer::from_pem_slice(&read(key_file)?)
        .map_err(|e| TlsError::Invalid(format!("{}: no private key: {e}", key_file.display())))?;
    CertifiedKey::from_der(chain, key, provider)
        .map(Arc::new)
        .map_err(|e| TlsError::Invalid(format!("{}: {e}", cert_file.display())))
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(&read(path)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Invalid(format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(TlsError::Invalid(format!(
            "{}: no PEM certificate",
            path.display()
        )));
    }
    Ok(certs)
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Turns Nagle's algorithm off on an accepted connection (`TCP_NODELAY`), as gRPC
/// servers do. An HTTP/2 answer is often several small writes (headers, data,
/// trailers); with Nagle on, a small write waits for the peer's delayed ACK, and a
/// call that should take a millisecond takes about 40. The tail of every benchmark
/// scenario, the no-op baseline included, sat at that 40 ms until this was set.
pub(crate) fn send_small_writes_at_once(stream: &TcpStream) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "could not set TCP_NODELAY");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_accepted_connection_sends_small_writes_at_once() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let _client = TcpStream::connect(address).await.unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        assert!(!accepted.nodelay().unwrap(), "Nagle is on by default");
        send_small_writes_at_once(&accepted);
        assert!(accepted.nodelay().unwrap());
    }

    #[tokio::test]
    async fn an_admitted_connection_gets_keepalive_probes_when_asked_and_holds_a_slot() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let admission = Admission::capped(1).with_tcp_keepalive(Duration::from_secs(60));
        let _first = TcpStream::connect(address).await.unwrap();
        let admitted = admission.accept(&listener).await;
        let socket = socket2::SockRef::from(&admitted.stream);
        assert!(socket.keepalive().unwrap());
        assert!(admitted.stream.nodelay().unwrap());

        // The one slot is taken: the next connection waits until it is given back.
        let _second = TcpStream::connect(address).await.unwrap();
        let waiting = tokio::time::timeout(Duration::from_millis(200), admission.accept(&listener));
        assert!(waiting.await.is_err(), "admitted past the cap");
        drop(admitted);
        let next = tokio::time::timeout(Duration::from_secs(5), admission.accept(&listener));
        assert!(next.await.is_ok(), "the freed slot was not reused");
    }
}
