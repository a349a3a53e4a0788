//! The OAuth 2.0 rows the core reads and writes through [`super::store::OAuth2Store`]:
//! plain data, no behaviour, no database types.

use super::pkce::PkceMethod;
use crate::secret::TokenHash;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A registered OAuth 2.0 client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuth2ClientRecord {
    /// `client_id`; the primary key.
    pub client_id: String,
    /// Shown on the consent screen.
    pub name: String,
    /// The argon2 PHC hash of the client secret; `None` for a public client.
    pub secret_hash: Option<String>,
    /// Redirect URIs, compared by exact string match.
    pub redirect_uris: Vec<String>,
    /// Scopes the client may ask for.
    pub scopes: Vec<String>,
    /// Its access-token lifetime in seconds; `None` for the server's.
    pub access_token_ttl_seconds: Option<i64>,
    /// Its refresh-token idle timeout in seconds; `None` for the server's.
    pub refresh_token_idle_seconds: Option<i64>,
    /// Its absolute refresh-token lifetime in seconds; `None` for the server's.
    pub refresh_token_max_seconds: Option<i64>,
    /// A disabled client fails authentication; its tokens fail validation.
    pub enabled: bool,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl OAuth2ClientRecord {
    /// Whether the client holds a secret (RFC 6749 section 2.1).
    pub fn is_confidential(&self) -> bool {
        self.secret_hash.is_some()
    }
}

/// An authorization code, bound to everything the token request must repeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCodeRecord {
    /// Internal id.
    pub id: Uuid,
    /// SHA-256 of the code; unique.
    pub code_hash: TokenHash,
    /// The client it was issued to.
    pub client_id: String,
    /// The approving user.
    pub user_id: String,
    /// `redirect_uri` exactly as the authorization request carried it (empty when it
    /// carried none): the token request must repeat it (RFC 6749 section 4.1.3).
    pub redirect_uri: String,
    /// The granted scopes.
    pub scopes: Vec<String>,
    /// The PKCE challenge and its method, when one was sent.
    pub pkce: Option<(String, PkceMethod)>,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
    /// When it was redeemed; a code is redeemed at most once.
    pub redeemed_at: Option<DateTime<Utc>>,
    /// The grant its redemption started.
    pub grant_id: Option<Uuid>,
}

/// A grant: the family of tokens one code started, and what revokes them together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuth2GrantRecord {
    /// Internal id; what ListAuthorizations and Revoke name a grant by.
    pub id: Uuid,
    /// The client.
    pub client_id: String,
    /// The user.
    pub user_id: String,
    /// The granted scopes.
    pub scopes: Vec<String>,
    /// The code it was redeemed from.
    pub code_id: Uuid,
    /// When the code was redeemed.
    pub created_at: DateTime<Utc>,
    /// When its last refresh token ends at the latest (absolute lifetime).
    pub expires_at: DateTime<Utc>,
    /// When it last issued tokens (redemption or rotation).
    pub refreshed_at: DateTime<Utc>,
    /// When it was revoked, with every token in it.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What an OAuth 2.0 token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuth2TokenKind {
    /// A bearer access token.
    Access,
    /// A refresh token.
    Refresh,
}

impl OAuth2TokenKind {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OAuth2TokenKind::Access => "access",
            OAuth2TokenKind::Refresh => "refresh",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "access" => Some(OAuth2TokenKind::Access),
            "refresh" => Some(OAuth2TokenKind::Refresh),
            _ => None,
        }
    }
}

/// An OAuth 2.0 access or refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuth2TokenRecord {
    /// Internal id.
    pub id: Uuid,
    /// SHA-256 of the token; unique.
    pub token_hash: TokenHash,
    /// Access or refresh.
    pub kind: OAuth2TokenKind,
    /// The grant (family) it belongs to.
    pub grant_id: Uuid,
    /// The client.
    pub client_id: String,
    /// The user.
    pub user_id: String,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// For a refresh token: when it was used (and so replaced). A second use is reuse.
    pub rotated_at: Option<DateTime<Utc>>,
}

/// A live grant as a user's profile page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuth2GrantListing {
    /// The grant.
    pub grant: OAuth2GrantRecord,
    /// The client's display name.
    pub client_name: String,
}
