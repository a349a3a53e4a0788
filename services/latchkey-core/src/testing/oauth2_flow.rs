//! The OAuth 2.0 steps most tests take before the one they test: a registered
//! client, an approved authorization request, a redeemed code.
#![allow(clippy::expect_used)]

use super::fixture::{Fixture, USER, admin, frontend, query_parameter};
use crate::authority::UserDecision;
use crate::oauth2::clients::OAuth2ClientDraft;
use crate::oauth2::grant::{
    IssuedOAuth2Tokens, OAuth2AuthorizationRequest, OAuth2ClientCredentials, OAuth2TokenRequest,
};
use crate::oauth2::pkce::s256_challenge;
use crate::oauth2::records::OAuth2ClientRecord;
use secrecy::ExposeSecret;

/// The one redirect URI the fixture's clients register.
pub(crate) const REDIRECT_URI: &str = "https://app.example.com/callback";

/// The PKCE verifier of the fixture's authorization requests (RFC 7636 appendix B).
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// A registered client and how it authenticates.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    pub(crate) record: OAuth2ClientRecord,
    pub(crate) credentials: OAuth2ClientCredentials,
}

impl Client {
    /// An approvable authorization request: exact redirect URI, PKCE S256 with
    /// [`VERIFIER`], every scope the client may ask for.
    pub(crate) fn authorization_request(&self) -> OAuth2AuthorizationRequest {
        OAuth2AuthorizationRequest {
            response_type: "code".into(),
            client_id: self.record.client_id.clone(),
            redirect_uri: REDIRECT_URI.into(),
            state: "xyz".into(),
            code_challenge: s256_challenge(VERIFIER),
            code_challenge_method: "S256".into(),
            ..OAuth2AuthorizationRequest::default()
        }
    }

    /// The token request that redeems `code` as [`Client::authorization_request`]
    /// asked for it.
    pub(crate) fn code_request(&self, code: &str) -> OAuth2TokenRequest {
        OAuth2TokenRequest {
            grant_type: "authorization_code".into(),
            code: code.into(),
            redirect_uri: REDIRECT_URI.into(),
            code_verifier: VERIFIER.into(),
            refresh_token: String::new(),
            scope: String::new(),
            client: self.credentials.clone(),
        }
    }

    /// The token request that refreshes with `refresh_token`.
    pub(crate) fn refresh_request(&self, refresh_token: &str) -> OAuth2TokenRequest {
        OAuth2TokenRequest {
            grant_type: "refresh_token".into(),
            code: String::new(),
            redirect_uri: String::new(),
            code_verifier: String::new(),
            refresh_token: refresh_token.into(),
            scope: String::new(),
            client: self.credentials.clone(),
        }
    }
}

impl Fixture {
    /// A draft for a client registering [`REDIRECT_URI`] and scopes `read` and `write`.
    pub(crate) fn client_draft(client_id: &str, confidential: bool) -> OAuth2ClientDraft {
        OAuth2ClientDraft {
            client_id: client_id.into(),
            name: format!("{client_id} app"),
            confidential,
            redirect_uris: vec![REDIRECT_URI.into()],
            scopes: vec!["read".into(), "write".into()],
            ..OAuth2ClientDraft::default()
        }
    }

    /// Registers `draft`.
    pub(crate) async fn client_from(&self, draft: OAuth2ClientDraft) -> Client {
        let registered = self
            .authority
            .register_oauth2_client(&admin(), draft)
            .await
            .expect("the client registers");
        Client {
            credentials: OAuth2ClientCredentials {
                client_id: registered.client.client_id.clone(),
                client_secret: registered.secret,
            },
            record: registered.client,
        }
    }

    /// Registers a confidential client (with a secret) or a public one.
    pub(crate) async fn client(&self, client_id: &str, confidential: bool) -> Client {
        self.client_from(Self::client_draft(client_id, confidential))
            .await
    }

    /// [`USER`] approves `client`'s authorization request; returns the code.
    pub(crate) async fn code(&self, client: &Client) -> String {
        let outcome = self
            .authority
            .authorize_oauth2(
                &frontend(),
                &client.authorization_request(),
                USER,
                Some(UserDecision::Approve),
            )
            .await
            .expect("the approval");
        let redirect = outcome.redirect_url.expect("a redirect");
        query_parameter(&redirect, "code").expect("a code")
    }

    /// A code redeemed: the grant's first access and refresh token.
    pub(crate) async fn tokens(&self, client: &Client) -> IssuedOAuth2Tokens {
        let code = self.code(client).await;
        self.authority
            .exchange_oauth2(&client.code_request(&code))
            .await
            .expect("the code redeems")
    }
}

/// A token's value, as the client holds it.
pub(crate) fn value(secret: &secrecy::SecretString) -> String {
    secret.expose_secret().to_owned()
}
