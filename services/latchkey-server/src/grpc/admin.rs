//! `latchkey.v1.ConsumerAdmin`: consumer administration, admin credential only.

use super::oauth1::{consumer, signature_methods, two_legged};
use super::{Handlers, oauth2, observe};
use latchkey_api::v1 as pb;
use latchkey_api::v1::consumer_admin_server::ConsumerAdmin;
use latchkey_core::oauth1::consumers::{ConsumerChanges, ConsumerDraft, SharedSecretChoice};
use secrecy::{ExposeSecret, SecretString};
use tonic::{Request, Response, Status};

/// The ConsumerAdmin service.
#[derive(Clone)]
pub struct AdminService(pub Handlers);

fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

/// What a registration asks for its shared secret. An empty secret and a `false`
/// request to generate one both mean none, as an unset field does.
fn shared_secret(secret: Option<pb::register_consumer_request::Secret>) -> SharedSecretChoice {
    use pb::register_consumer_request::Secret;
    match secret {
        Some(Secret::SharedSecret(given)) if !given.is_empty() => {
            SharedSecretChoice::Given(SecretString::from(given))
        }
        Some(Secret::GenerateSharedSecret(true)) => SharedSecretChoice::Generate,
        Some(Secret::SharedSecret(_) | Secret::GenerateSharedSecret(false)) | None => {
            SharedSecretChoice::None
        }
    }
}

#[tonic::async_trait]
impl ConsumerAdmin for AdminService {
    async fn register_consumer(
        &self,
        request: Request<pb::RegisterConsumerRequest>,
    ) -> Result<Response<pb::RegisterConsumerResponse>, Status> {
        let caller = self.0.caller(&request).await?;
        let message = request.into_inner();
        observe(&self.0, "RegisterConsumer", async {
            let draft = ConsumerDraft {
                key: message.key,
                name: message.name,
                description: message.description,
                callback_url: non_empty(message.callback_url),
                public_key: non_empty(message.public_key),
                shared_secret: shared_secret(message.secret),
                signature_methods: signature_methods(&message.signature_methods)?,
                access_token_ttl_seconds: message.token_policy.map(|p| p.access_token_ttl_seconds),
                access_token_idle_seconds: message.token_policy.map(|p| p.idle_timeout_seconds),
                two_legged: message.two_legged.map(two_legged),
            };
            let authority = &self.0.authority;
            let registered = if message.consumer_info_url.is_empty() {
                authority.register_consumer(&caller, draft).await?
            } else {
                let fetch = self.0.outbound.consumer_info(&message.consumer_info_url);
                authority
                    .register_consumer_from_info(&caller, draft, fetch)
                    .await?
            };
            Ok(pb::RegisterConsumerResponse {
                consumer: Some(consumer(registered.consumer)),
                generated_shared_secret: registered
                    .generated_secret
                    .map(|s| s.expose_secret().to_owned())
                    .unwrap_or_default(),
            })
        })
        .await
    }

    async fn get_consumer(
        &self,
        request: Request<pb::GetConsumerRequest>,
    ) -> Result<Response<pb::Consumer>, Status> {
        let caller = self.0.caller(&request).await?;
        let message = request.into_inner();
        observe(&self.0, "GetConsumer", async {
            Ok(consumer(
                self.0.authority.get_consumer(&caller, &message.key).await?,
            ))
        })
        .await
    }

    async fn list_consumers(
        &self,
        request: Request<pb::ListConsumersRequest>,
    ) -> Result<Response<pb::ListConsumersResponse>, Status> {
        let caller = self.0.caller(&request).await?;
        let message = request.into_inner();
        observe(&self.0, "ListConsumers", async {
            let page = self
                .0
                .authority
                .list_consumers(&caller, message.page_size, &message.page_token)
                .await?;
            Ok(pb::ListConsumersResponse {
                consumers: page.consumers.into_iter().map(consumer).collect(),
                next_page_token: page.next_page_token.unwrap_or_default(),
            })
        })
        .await
    }

    async fn update_consumer(
        &self,
        request: Request<pb::UpdateConsumerRequest>,
    ) -> Result<Response<pb::Consumer>, Status> {
        let caller = self.0.caller(&request).await?;
        let message = request.into_inner();
        observe(&self.0, "UpdateConsumer", async {
            let changes = ConsumerChanges {
                name: message.name,
                description: message.description,
                callback_url: message.callback_url,
                public_key: message.public_key,
                shared_secret: message.shared_secret.map(SecretString::from),
                signature_methods: if message.signature_methods.is_empty() {
                    None
                } else {
                    Some(signature_methods(&message.signature_methods)?)
                },
                access_token_ttl_seconds: message.token_policy.map(|p| p.access_token_ttl_seconds),
                access_token_idle_seconds: message.token_policy.map(|p| p.idle_timeout_seconds),
                two_legged: message.two_legged.map(two_legged),
                apply_to_issued_tokens: message.apply_to_issued_tokens,
            };
            Ok(consumer(
                self.0
                    .authority
                    .update_consumer(&caller, &message.key, changes)
                    .await?,
            ))
        })
        .await
    }

    async fn set_consumer_enabled(
        &self,
        request: Request<pb::SetConsumerEnabledRequest>,
    ) -> Result<Response<pb::Consumer>, Status> {
        let caller = self.0.caller(&request).await?;
        let message = request.into_inner();
        observe(&self.0, "SetConsumerEnabled", async {
            Ok(consumer(
                self.0
                    .authority
                    .set_consumer_enabled(&caller, &message.key, message.enabled)
                    .await?,
            ))
        })
        .await
    }

    async fn delete_consumer(
        &self,
        request: Request<pb::DeleteConsumerRequest>,
    ) -> Result<Response<pb::DeleteConsumerResponse>, Status> {
        let caller = self.0.caller(&request).await?;
        let message = request.into_inner();
        observe(&self.0, "DeleteConsumer", async {
            let deleted = self
                .0
                .authority
                .delete_consumer(&caller, &message.key)
                .await?;
            Ok(pb::DeleteConsumerResponse {
                tokens_deleted: u32::try_from(deleted).unwrap_or(u32::MAX),
            })
        })
        .await
    }

    async fn register_o_auth2_client(
        &self,
        request: Request<pb::RegisterOAuth2ClientRequest>,
    ) -> Result<Response<pb::RegisterOAuth2ClientResponse>, Status> {
        let caller = self.0.caller(&request).await?;
        let message = request.into_inner();
        observe(&self.0, "RegisterOAuth2Client", async {
            let registered = self
                .0
                .authority
                .register_oauth2_client(&caller, oauth2::draft(message))
                .await?;
            Ok(pb::RegisterOAuth2ClientResponse {
                client: Some(oauth2::client(registered.client)),
                client_secret: registered
                    .secret
                    .map(|s| s.expose_secret().to_owned())
                    .unwrap_or_default(),
            })
        })
        .await
    }

    async fn get_o_auth2_client(
        &self,
        request: Request<pb::GetOAuth2ClientRequest>,
    ) -> Result<Response<pb::OAuth2Client>, Status> {
        let caller = self.0.caller(&request).await?;
        let message = request.into_inner();
        observe(&self.0, "GetOAuth2Client", async {
            Ok(oauth2::client(
                self.0
                    .authority
                    .get_oauth2_client(&caller, &message.client_id)
                    .await?,
            ))
        })
        .await
    }

    async fn rotate_o_auth2_client_secret(
        &self,
        request: Request<pb::RotateOAuth2ClientSecretRequest>,
    ) -> Result<Response<pb::RotateOAuth2ClientSecretResponse>, Status> {
        let caller = self.0.caller(&request).await?;
        let message = request.into_inner();
        observe(&self.0, "RotateOAuth2ClientSecret", async {
            let secret = self
                .0
                .authority
                .rotate_oauth2_client_secret(&caller, &message.client_id)
                .await?;
            Ok(pb::RotateOAuth2ClientSecretResponse {
                client_secret: secret.expose_secret().to_owned(),
            })
        })
        .await
    }

    async fn delete_o_auth2_client(
        &self,
        request: Request<pb::DeleteOAuth2ClientRequest>,
    ) -> Result<Response<pb::DeleteOAuth2ClientResponse>, Status> {
        let caller = self.0.caller(&request).await?;
        let message = request.into_inner();
        observe(&self.0, "DeleteOAuth2Client", async {
            let deleted = self
                .0
                .authority
                .delete_oauth2_client(&caller, &message.client_id)
                .await?;
            Ok(pb::DeleteOAuth2ClientResponse {
                tokens_deleted: u32::try_from(deleted).unwrap_or(u32::MAX),
            })
        })
        .await
    }
}
