//! The gRPC layer: thin translators between `latchkey.v1` and the core.
//!
//! A handler extracts the caller, converts the request (`TryFrom`, in `convert`),
//! calls one [`Authority`] method, and maps the result back: no rule lives here. The
//! services (`authority`, `admin`) dispatch; each protocol's conversions sit in its
//! own file (`oauth1`, `oauth2`), the same shape as the core's folders. [`observe`] wraps every call to log
//! one line with its outcome, count it in the metrics, and map errors through the one
//! mapping in [`status`].

mod admin;
mod authority;
mod common;
mod convert;
mod oauth1;
mod oauth2;
pub mod status;

pub use admin::AdminService;
pub use authority::AuthorityService;

use crate::gate::{CredentialGate, Schemes};
use crate::metrics::{Metrics, TokenEvent};
use crate::outbound::Outbound;
use latchkey_core::AuthorityResult;
use latchkey_core::authority::{Authority, Caller};
use std::sync::Arc;
use std::time::Instant;
use tonic::{Request, Response, Status};

/// What every handler needs.
#[derive(Clone)]
pub struct Handlers {
    authority: Arc<Authority>,
    gate: Arc<CredentialGate>,
    metrics: Arc<Metrics>,
    outbound: Outbound,
}

impl Handlers {
    /// Handlers over one authority.
    pub fn new(
        authority: Arc<Authority>,
        gate: Arc<CredentialGate>,
        metrics: Arc<Metrics>,
        outbound: Outbound,
    ) -> Self {
        Self {
            authority,
            gate,
            metrics,
            outbound,
        }
    }

    /// Who is calling, from `authorization: Bearer <credential>`, through the one
    /// credential gate. Refused only when the gate is saturated: `RESOURCE_EXHAUSTED`,
    /// logged like any refusal.
    async fn caller<T>(&self, request: &Request<T>) -> Result<Caller, Status> {
        let authorization = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        self.gate
            .caller(authorization, Schemes::Bearer)
            .await
            .map_err(|error| {
                let rpc = request
                    .extensions()
                    .get::<tonic::GrpcMethod>()
                    .map_or("unknown", |method| method.method());
                let status = status::to_status(&error);
                tracing::info!(rpc, code = ?status.code(), detail = %error, "rpc");
                status
            })
    }
}

/// Runs one call, logs its outcome, counts it, and maps its error.
async fn observe<T>(
    handlers: &Handlers,
    rpc: &'static str,
    call: impl Future<Output = AuthorityResult<T>>,
) -> Result<Response<T>, Status> {
    let started = Instant::now();
    let result = call.await;
    let elapsed = started.elapsed();
    let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
    match result {
        Ok(response) => {
            tracing::info!(rpc, code = "OK", elapsed_ms, "rpc");
            handlers.metrics.call("grpc", rpc, "OK", elapsed);
            match rpc {
                "IssueRequestToken" => handlers.metrics.tokens(TokenEvent::Issued, 1),
                "ExchangeToken" => handlers.metrics.tokens(TokenEvent::Exchanged, 1),
                _ => {}
            }
            Ok(Response::new(response))
        }
        Err(error) => {
            let status = status::to_status(&error);
            let problem = error.problem().map(|p| p.as_str()).unwrap_or("");
            // `error` carries only non-secret detail (keys, states, reasons).
            tracing::info!(rpc, code = ?status.code(), problem, detail = %error, elapsed_ms, "rpc");
            handlers
                .metrics
                .call("grpc", rpc, &format!("{:?}", status.code()), elapsed);
            Err(status)
        }
    }
}
