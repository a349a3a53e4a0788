//! The HTTP layer: RFC 5849 over HTTP on Jira's paths, so that an existing Jira OAuth
//! client can point at Latchkey and complete the dance unchanged.
//!
//! It runs in the same process as the gRPC layer and calls the same [`Authority`]
//! directly; it never calls Latchkey over gRPC. Like the gRPC handlers, it only
//! translates:
//!
//! - [`received`]: a consumer's HTTP request as the core reads it. The URL the consumer
//!   signed is `public_base_url` + the path and query this process saw, because behind
//!   an ingress the `Host` this process sees is not the one the consumer addressed.
//! - [`oauth1`]: request-token, authorize and access-token, and a consumer's
//!   signed revocation: extract, call, map.
//! - [`oauth2`]: OAuth 2.0's authorize redirect, token, revocation and introspection
//!   endpoints under `/oauth2/`, answering in JSON as RFC 6749 section 5 says. With no
//!   external consent page configured, `/oauth2/authorize` is the built-in page in
//!   [`crate::web`].
//! - [`response`]: the one mapping from [`latchkey_core::AuthorityError`] to an HTTP
//!   response, as Jira sends it, and the form-encoded success bodies.
//!
//! Limits live here, in front of every handler: a body over `http.body_limit_bytes`
//! is answered 413 before it is read, a request slower than
//! `http.request_timeout_seconds` is answered 408. A malformed header or body is a 400
//! `parameter_rejected`, never a 500. Around the requests, [`connections`] limits
//! each connection's time spent sending headers or sitting idle, and the listener
//! serves at most `http.max_connections` at once.

mod connections;
pub(crate) mod oauth1;
mod oauth2;
pub mod received;
pub mod response;

use crate::config::HttpConfig;
use crate::gate::CredentialGate;
use crate::web::WebPages;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{any, get, post};
use latchkey_core::authority::Authority;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

/// Jira's request-token path (RFC 5849: temporary credential request).
pub const REQUEST_TOKEN_PATH: &str = "/plugins/servlet/oauth/request-token";
/// Jira's authorize path (RFC 5849: resource owner authorization). The authorize URL
/// the core hands to consumers points here.
pub const AUTHORIZE_PATH: &str = "/plugins/servlet/oauth/authorize";
/// Jira's access-token path (RFC 5849: token request).
pub const ACCESS_TOKEN_PATH: &str = "/plugins/servlet/oauth/access-token";

/// Where a consumer revokes its own tokens with a signed `POST` naming the target in
/// its form body. Latchkey's own path, not Jira's: the core defines it, because the
/// signature of every consumer revocation, over gRPC too, must cover this URL.
pub const REVOKE_PATH: &str = latchkey_core::oauth1::consumer_revoke::REVOKE_PATH;

/// Aliases of the three paths without Jira's servlet prefix.
pub const REQUEST_TOKEN_ALIAS: &str = "/oauth/request-token";
/// See [`REQUEST_TOKEN_ALIAS`].
pub const AUTHORIZE_ALIAS: &str = "/oauth/authorize";
/// See [`REQUEST_TOKEN_ALIAS`].
pub const ACCESS_TOKEN_ALIAS: &str = "/oauth/access-token";

/// What every handler needs.
#[derive(Clone)]
pub(crate) struct HttpState {
    authority: Arc<Authority>,
    /// `public_base_url` without a trailing slash: the signed URL starts with it, and
    /// it is the `realm` of every challenge.
    public_base_url: Arc<str>,
    /// Where `/authorize` sends the browser; `None` when no frontend is configured.
    consent_page_url: Option<Arc<url::Url>>,
    /// The credential gate, for OAuth 2.0 introspection by a resource server.
    gate: Arc<CredentialGate>,
}

/// The HTTP server, bound to its port, not yet serving.
pub struct HttpServer {
    listener: TcpListener,
    port: u16,
    router: Router,
    tls: Option<crate::tls::Tls>,
    limits: connections::Limits,
    max_connections: usize,
}

impl HttpServer {
    /// Binds `config.listen` and builds the routes over `authority`, with `gate`
    /// for the callers that present Latchkey's own credentials.
    pub async fn bind(
        config: &HttpConfig,
        public_base_url: &str,
        authority: Arc<Authority>,
        gate: Arc<CredentialGate>,
        pages: WebPages,
    ) -> std::io::Result<HttpServer> {
        let listener = TcpListener::bind(config.listen).await?;
        let port = listener.local_addr()?.port();
        // Config::load has validated the URL; one that slipped past (a Config built in
        // code) is refused as unusable input rather than ignored.
        let consent_page_url = config
            .consent_page_url
            .as_deref()
            .map(url::Url::parse)
            .transpose()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?
            .map(Arc::new);
        let state = HttpState {
            authority,
            public_base_url: public_base_url.trim_end_matches('/').into(),
            consent_page_url,
            gate,
        };
        let router = router(state, config, &pages);
        Ok(HttpServer {
            listener,
            port,
            router,
            tls: None,
            limits: connections::Limits {
                header_read: Duration::from_secs(config.header_read_timeout_seconds),
                idle: Duration::from_secs(config.idle_timeout_seconds),
            },
            max_connections: config.max_connections,
        })
    }

    /// The bound port (useful when configured as 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Wraps the routes (start-up adds request ids and metrics around them).
    pub fn map_router(mut self, wrap: impl FnOnce(Router) -> Router) -> Self {
        self.router = wrap(self.router);
        self
    }

    /// Serves over TLS rather than plain text.
    pub fn with_tls(mut self, tls: Option<crate::tls::Tls>) -> Self {
        self.tls = tls.map(|tls| tls.http1_only());
        self
    }

    /// Serves until `stop` completes, then stops accepting, finishes in-flight
    /// requests and closes idle connections.
    pub async fn serve(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let HttpServer {
            listener,
            port,
            router,
            tls,
            limits,
            max_connections,
            ..
        } = self;
        tracing::info!(port, tls = tls.is_some(), "serving OAuth 1.0a over HTTP");
        // Waiting for a slot rather than refusing: a burst past the cap is served a
        // moment later, not failed, and every connection holding a slot lets go of it
        // within the header or idle timeout unless it is being answered.
        let admission = crate::tls::Admission::capped(max_connections);
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let mut stop = std::pin::pin!(stop);
        // Each arm owns the listener and closes it as it ends, so connections that
        // come during the shutdown below are refused.
        match tls {
            Some(tls) => {
                let mut incoming = tls.incoming(listener, admission);
                loop {
                    let connection = tokio::select! {
                        () = &mut stop => break,
                        connection = incoming.recv() => connection,
                    };
                    // The accept loop has ended (it only does once `incoming` is gone).
                    let Some(connection) = connection else { break };
                    connections::spawn(connection, router.clone(), limits, graceful.watcher());
                }
            }
            None => {
                let listener = listener;
                loop {
                    let connection = tokio::select! {
                        () = &mut stop => break,
                        connection = admission.accept(&listener) => connection,
                    };
                    connections::spawn(connection, router.clone(), limits, graceful.watcher());
                }
            }
        }
        graceful.shutdown().await;
        Ok(())
    }
}

fn router(state: HttpState, config: &HttpConfig, pages: &WebPages) -> Router {
    // Token endpoints answer GET as well as POST, as Jira's servlet does: the method is
    // part of what the consumer signed, so either is safe.
    let request_token = get(oauth1::request_token).post(oauth1::request_token);
    let access_token = get(oauth1::access_token).post(oauth1::access_token);
    let mut endpoints = Router::new()
        .route(REQUEST_TOKEN_PATH, request_token.clone())
        .route(REQUEST_TOKEN_ALIAS, request_token)
        .route(ACCESS_TOKEN_PATH, access_token.clone())
        .route(ACCESS_TOKEN_ALIAS, access_token)
        // Every method reaches the handler, so a wrong one is refused the OAuth way.
        .route(REVOKE_PATH, any(oauth1::revoke))
        .route(oauth2::TOKEN_PATH, post(oauth2::token))
        .route(oauth2::REVOKE_PATH, post(oauth2::revoke))
        .route(oauth2::INTROSPECT_PATH, post(oauth2::introspect))
        .route(oauth2::METADATA_PATH, get(oauth2::metadata));
    // An external consent page wins; else the built-in one, if on; else a 404 that
    // says why.
    let built_in_consent = state.consent_page_url.is_none() && pages.serves_consent();
    if !built_in_consent {
        let authorize = get(oauth1::authorize);
        endpoints = endpoints
            .route(AUTHORIZE_PATH, authorize.clone())
            .route(AUTHORIZE_ALIAS, authorize)
            .route(oauth2::AUTHORIZE_PATH, get(oauth2::authorize));
    }
    let mut routes = endpoints.with_state(state).merge(pages.routes());
    if built_in_consent {
        routes = routes.merge(
            pages.consent_routes(&[AUTHORIZE_PATH, AUTHORIZE_ALIAS], oauth2::AUTHORIZE_PATH),
        );
    }
    routes
        // The limit layer refuses a declared oversize body before reading it and caps
        // an undeclared one; axum's own (larger) default must not take over.
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(config.body_limit_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(config.request_timeout_seconds),
        ))
}
