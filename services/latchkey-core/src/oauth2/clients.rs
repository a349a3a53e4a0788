//! OAuth 2.0 client administration (admin credential): register, read, rotate the
//! secret, delete. A confidential client's secret is generated here, shown once, and
//! kept only as an argon2 hash; a public client has none and must use PKCE.

use crate::authority::{Authority, Caller};
use crate::credentials::{Role, digest_credential};
use crate::error::{AuthorityError, AuthorityResult};
use crate::oauth2::client::{validate_client_id, validate_redirect_uri};
use crate::oauth2::records::OAuth2ClientRecord;
use crate::oauth2::scope;
use crate::records::AuditAction;
use crate::secret::new_token_value;
use secrecy::SecretString;

/// What an admin asks to register.
#[derive(Debug, Clone, Default)]
pub struct OAuth2ClientDraft {
    /// The client id; empty to have one generated.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// Confidential (gets a secret) or public.
    pub confidential: bool,
    /// Exact redirect URIs; at least one.
    pub redirect_uris: Vec<String>,
    /// Scopes the client may ask for.
    pub scopes: Vec<String>,
    /// Access-token lifetime in seconds; 0 for the server's.
    pub access_token_ttl_seconds: u64,
    /// Refresh-token idle timeout in seconds; 0 for the server's.
    pub refresh_token_idle_seconds: u64,
    /// Absolute refresh-token lifetime in seconds; 0 for the server's.
    pub refresh_token_max_seconds: u64,
}

/// A registered client, with its secret this once.
#[derive(Debug)]
pub struct RegisteredOAuth2Client {
    /// The client as stored.
    pub client: OAuth2ClientRecord,
    /// The client secret; `None` for a public client.
    pub secret: Option<SecretString>,
}

/// The longest lifetime a client may set for any of its tokens: 5 years.
const MAX_CLIENT_LIFETIME_SECONDS: u64 = 5 * 365 * 24 * 3600;

fn lifetime(seconds: u64, field: &'static str) -> AuthorityResult<Option<i64>> {
    match seconds {
        0 => Ok(None),
        s if s > MAX_CLIENT_LIFETIME_SECONDS => {
            Err(AuthorityError::invalid(field, "at most 5 years"))
        }
        s => Ok(Some(i64::try_from(s).unwrap_or(i64::MAX))),
    }
}

impl Authority {
    /// Registers an OAuth 2.0 client. Admin credential.
    pub async fn register_oauth2_client(
        &self,
        caller: &Caller,
        draft: OAuth2ClientDraft,
    ) -> AuthorityResult<RegisteredOAuth2Client> {
        caller.require_any(&[Role::Admin], "RegisterOAuth2Client")?;
        let client_id = if draft.client_id.is_empty() {
            new_token_value(self.randomness.as_ref())[..22].to_owned()
        } else {
            draft.client_id
        };
        validate_client_id(&client_id).map_err(|d| AuthorityError::invalid("client_id", d))?;
        let name = draft.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 255 {
            return Err(AuthorityError::invalid("name", "1 to 255 characters"));
        }
        if draft.redirect_uris.is_empty() {
            return Err(AuthorityError::invalid(
                "redirect_uris",
                "register at least one redirect URI",
            ));
        }
        for uri in &draft.redirect_uris {
            validate_redirect_uri(uri).map_err(|d| AuthorityError::invalid("redirect_uris", d))?;
        }
        let mut scopes: Vec<String> = Vec::new();
        for s in &draft.scopes {
            if !scope::valid_token(s) {
                return Err(AuthorityError::invalid(
                    "scopes",
                    format!("{s:?} is not a scope token"),
                ));
            }
            if !scopes.contains(s) {
                scopes.push(s.clone());
            }
        }
        let secret = draft
            .confidential
            .then(|| new_token_value(self.randomness.as_ref()));
        // 256 random bits: a digest is as safe as argon2 and costs microseconds.
        let secret_hash = secret.as_deref().map(digest_credential);
        let now = self.now();
        let client = OAuth2ClientRecord {
            client_id,
            name,
            secret_hash,
            redirect_uris: draft.redirect_uris,
            scopes,
            access_token_ttl_seconds: lifetime(
                draft.access_token_ttl_seconds,
                "access_token_ttl_seconds",
            )?,
            refresh_token_idle_seconds: lifetime(
                draft.refresh_token_idle_seconds,
                "refresh_token_idle_seconds",
            )?,
            refresh_token_max_seconds: lifetime(
                draft.refresh_token_max_seconds,
                "refresh_token_max_seconds",
            )?,
            enabled: true,
            created_at: now,
            updated_at: now,
        };
        let mut audit = self.audit(AuditAction::OAuth2ClientRegistered, "admin");
        audit.consumer_key = Some(client.client_id.clone());
        self.store.insert_oauth2_client(&client, &audit).await?;
        Ok(RegisteredOAuth2Client {
            client,
            secret: secret.map(SecretString::from),
        })
    }

    /// One client. Admin credential.
    pub async fn get_oauth2_client(
        &self,
        caller: &Caller,
        client_id: &str,
    ) -> AuthorityResult<OAuth2ClientRecord> {
        caller.require_any(&[Role::Admin], "GetOAuth2Client")?;
        self.existing_oauth2_client(client_id).await
    }

    /// Replaces a confidential client's secret; the old one stops working at once.
    /// Admin credential.
    pub async fn rotate_oauth2_client_secret(
        &self,
        caller: &Caller,
        client_id: &str,
    ) -> AuthorityResult<SecretString> {
        caller.require_any(&[Role::Admin], "RotateOAuth2ClientSecret")?;
        let mut client = self.existing_oauth2_client(client_id).await?;
        if !client.is_confidential() {
            return Err(AuthorityError::invalid(
                "client_id",
                "a public client has no secret to rotate",
            ));
        }
        let secret = new_token_value(self.randomness.as_ref());
        client.secret_hash = Some(digest_credential(&secret));
        client.updated_at = self.now();
        let mut audit = self.audit(AuditAction::OAuth2ClientSecretRotated, "admin");
        audit.consumer_key = Some(client.client_id.clone());
        let updated = self.store.update_oauth2_client(&client, &audit).await;
        self.oauth2_client_changed(&client.client_id).await;
        if !updated? {
            return Err(AuthorityError::not_found(None, "no such OAuth 2.0 client"));
        }
        Ok(secret.into())
    }

    /// Deletes a client with its codes, grants and tokens; returns how many tokens
    /// went. Admin credential.
    pub async fn delete_oauth2_client(
        &self,
        caller: &Caller,
        client_id: &str,
    ) -> AuthorityResult<u64> {
        caller.require_any(&[Role::Admin], "DeleteOAuth2Client")?;
        let mut audit = self.audit(AuditAction::OAuth2ClientDeleted, "admin");
        audit.consumer_key = Some(client_id.to_owned());
        let deleted = self.store.delete_oauth2_client(client_id, &audit).await;
        self.oauth2_client_changed(client_id).await;
        deleted?.ok_or_else(|| AuthorityError::not_found(None, "no such OAuth 2.0 client"))
    }

    pub(super) async fn existing_oauth2_client(
        &self,
        client_id: &str,
    ) -> AuthorityResult<OAuth2ClientRecord> {
        self.store
            .get_oauth2_client(client_id)
            .await?
            .ok_or_else(|| AuthorityError::not_found(None, "no such OAuth 2.0 client"))
    }
}
