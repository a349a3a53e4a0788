//! The six ways the flood presents a wrong credential: every kind of place a caller
//! Latchkey does not know yet can make it check one. Each request carries a fresh
//! random credential, so none can be answered from memory of an earlier one; the
//! rest of each request is well formed, so the credential is all that is wrong.

use super::Answer;
use crate::scenarios::{self, with_credential};
use crate::server::Server;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use latchkey_api::v1 as pb;
use latchkey_api::v1::token_authority_client::TokenAuthorityClient;
use latchkey_core::secret::{OsRandomness, new_token_value};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use tonic::transport::Channel;

/// One path a wrong credential can reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// gRPC `ListAuthorizations`, which needs the frontend credential.
    ListAuthorizations,
    /// gRPC `ValidateAccess`, which needs the service credential here.
    ValidateAccess,
    /// `POST /oauth2/introspect` as a resource server, with `Authorization: Bearer`.
    Introspect,
    /// `POST /oauth2/token` from a client nobody registered (`client_secret_basic`).
    TokenUnknownClient,
    /// `POST /oauth2/token` from a registered confidential client with a wrong secret.
    TokenWrongSecret,
    /// The web administration, with a wrong HTTP Basic password.
    WebAdmin,
}

impl Path {
    /// Every path, in the order the flood takes them.
    pub const ALL: [Path; 6] = [
        Path::ListAuthorizations,
        Path::ValidateAccess,
        Path::Introspect,
        Path::TokenUnknownClient,
        Path::TokenWrongSecret,
        Path::WebAdmin,
    ];

    /// How the report names it.
    pub fn name(self) -> &'static str {
        match self {
            Path::ListAuthorizations => "gRPC `ListAuthorizations`, wrong `authorization: Bearer`",
            Path::ValidateAccess => "gRPC `ValidateAccess`, wrong service credential",
            Path::Introspect => "`POST /oauth2/introspect`, wrong `Authorization: Bearer`",
            Path::TokenUnknownClient => "`POST /oauth2/token`, unknown client id (Basic)",
            Path::TokenWrongSecret => {
                "`POST /oauth2/token`, registered client, wrong secret (Basic)"
            }
            Path::WebAdmin => "`GET /web/admin`, wrong Basic password",
        }
    }
}

/// The client id of the registered confidential client.
const CLIENT_ID: &str = "bench-hostile";

/// What the paths are sent to, and the legitimate values the requests carry.
pub struct Target {
    channels: Vec<Channel>,
    http: reqwest::Client,
    base_url: String,
    bearer_token: String,
}

impl Target {
    /// Registers a confidential OAuth 2.0 client on `server` and gets a bearer token
    /// through a grant, as a real client does; the gRPC paths share `channels`.
    pub async fn set_up(server: &Server, channels: &[Channel]) -> anyhow::Result<Target> {
        let channel = channels
            .first()
            .ok_or_else(|| anyhow::anyhow!("no connection to send the flood on"))?;
        let client = scenarios::register_oauth2_client(channel, CLIENT_ID).await?;
        let bearer_token = scenarios::oauth2_access_token(channel, &client).await?;
        Ok(Target {
            channels: channels.to_vec(),
            http: http_client()?,
            base_url: format!("http://127.0.0.1:{}", server.http_port),
            bearer_token,
        })
    }

    /// A live bearer token, for the calls that need one besides the credential.
    pub fn bearer_token(&self) -> &str {
        &self.bearer_token
    }

    /// Sends the flood's `n`th request, on `path`, with a fresh wrong credential.
    pub async fn send_wrong(&self, path: Path, n: usize) -> anyhow::Result<Answer> {
        let wrong = new_token_value(&OsRandomness);
        let authority =
            || TokenAuthorityClient::new(self.channels[n % self.channels.len()].clone());
        Ok(match path {
            Path::ListAuthorizations => {
                let request = pb::ListAuthorizationsRequest {
                    user_id: "bench-user".into(),
                };
                Answer::of_grpc(
                    authority()
                        .list_authorizations(with_credential(request, &wrong)?)
                        .await,
                )
            }
            Path::ValidateAccess => {
                let request = pb::ValidateAccessRequest {
                    request: Some(pb::validate_access_request::Request::BearerToken(
                        self.bearer_token.clone(),
                    )),
                };
                Answer::of_grpc(
                    authority()
                        .validate_access(with_credential(request, &wrong)?)
                        .await,
                )
            }
            Path::Introspect => {
                let sent = self
                    .http
                    .post(format!("{}/oauth2/introspect", self.base_url))
                    .header(AUTHORIZATION, format!("Bearer {wrong}"))
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(form(&[("token", &self.bearer_token)]))
                    .send()
                    .await;
                Answer::of_http(sent).await
            }
            Path::TokenUnknownClient => {
                let unknown = format!("unknown-{}", uuid::Uuid::new_v4().simple());
                self.refresh_as(&unknown, &wrong).await
            }
            Path::TokenWrongSecret => self.refresh_as(CLIENT_ID, &wrong).await,
            Path::WebAdmin => {
                let sent = self
                    .http
                    .get(format!("{}/web/admin", self.base_url))
                    .header(AUTHORIZATION, basic("admin", &wrong))
                    .send()
                    .await;
                Answer::of_http(sent).await
            }
        })
    }

    /// A refresh at the token endpoint as `client_id` with `secret`: the client is
    /// authenticated before the grant is looked at.
    async fn refresh_as(&self, client_id: &str, secret: &str) -> Answer {
        let refresh_token = new_token_value(&OsRandomness);
        let sent = self
            .http
            .post(format!("{}/oauth2/token", self.base_url))
            .header(AUTHORIZATION, basic(client_id, secret))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh_token),
            ]))
            .send()
            .await;
        Answer::of_http(sent).await
    }
}

/// An HTTP client that shows redirects rather than following them.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

/// An `application/x-www-form-urlencoded` body.
pub fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// HTTP Basic. RFC 6749 section 2.3.1 has a client form-encode its id and secret
/// first; the ones sent here are URL-safe characters, which that leaves as they are.
fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}
