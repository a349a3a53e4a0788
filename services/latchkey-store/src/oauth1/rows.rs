//! Conversions between the core's OAuth 1.0a records and the rows the entities hold:
//! where sealed bytes become [`EncryptedSecret`]s and stored spellings are parsed. A
//! row that does not convert is a corrupt row: [`StoreError::Internal`], never a panic.

use crate::convert::{corrupt, hash, instant, millis, optional_instant};
use crate::entities::{access_tokens, consumers, request_tokens};
use latchkey_core::error::StoreError;
use latchkey_core::oauth1::SignatureMethod;
use latchkey_core::oauth1::records::{
    AccessTokenRecord, ConsumerRecord, RequestTokenRecord, RequestTokenState, TwoLeggedPolicy,
};
use latchkey_core::secret::EncryptedSecret;

/// Signature methods as stored: `RSA-SHA1,HMAC-SHA1`.
pub(crate) fn methods_text(methods: &[SignatureMethod]) -> String {
    methods
        .iter()
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_methods(text: &str) -> Result<Vec<SignatureMethod>, StoreError> {
    text.split(',')
        .filter(|part| !part.is_empty())
        .map(|part| {
            SignatureMethod::parse(part)
                .ok_or_else(|| corrupt("consumers.signature_methods", "unknown method"))
        })
        .collect()
}

/// A consumer row as the core's record.
pub(crate) fn consumer(row: consumers::Model) -> Result<ConsumerRecord, StoreError> {
    Ok(ConsumerRecord {
        signature_methods: parse_methods(&row.signature_methods)?,
        created_at: instant("consumers.created_at", row.created_at)?,
        updated_at: instant("consumers.updated_at", row.updated_at)?,
        key: row.key,
        name: row.name,
        description: row.description,
        callback_url: row.callback_url,
        public_key_pem: row.public_key_pem,
        shared_secret: row.shared_secret.map(EncryptedSecret),
        access_token_ttl_seconds: row.access_token_ttl_seconds,
        access_token_idle_seconds: row.access_token_idle_seconds,
        two_legged: TwoLeggedPolicy {
            allowed: row.two_legged_allowed,
            execute_as: row.two_legged_execute_as,
            impersonation: row.two_legged_impersonation,
        },
        enabled: row.enabled,
    })
}

/// A consumer record as a row.
pub(crate) fn consumer_row(record: &ConsumerRecord) -> consumers::Model {
    consumers::Model {
        key: record.key.clone(),
        name: record.name.clone(),
        description: record.description.clone(),
        callback_url: record.callback_url.clone(),
        public_key_pem: record.public_key_pem.clone(),
        shared_secret: record.shared_secret.as_ref().map(|s| s.0.clone()),
        signature_methods: methods_text(&record.signature_methods),
        access_token_ttl_seconds: record.access_token_ttl_seconds,
        access_token_idle_seconds: record.access_token_idle_seconds,
        two_legged_allowed: record.two_legged.allowed,
        two_legged_execute_as: record.two_legged.execute_as.clone(),
        two_legged_impersonation: record.two_legged.impersonation,
        enabled: record.enabled,
        created_at: millis(record.created_at),
        updated_at: millis(record.updated_at),
    }
}

/// A request token row as the core's record.
pub(crate) fn request_token(row: request_tokens::Model) -> Result<RequestTokenRecord, StoreError> {
    Ok(RequestTokenRecord {
        id: row.id,
        token_hash: hash("request_tokens.token_hash", &row.token_hash)?,
        state: RequestTokenState::parse(&row.state)
            .ok_or_else(|| corrupt("request_tokens.state", "unknown state"))?,
        verifier_hash: row
            .verifier_hash
            .as_deref()
            .map(|bytes| hash("request_tokens.verifier_hash", bytes))
            .transpose()?,
        verifier_failures: failures(row.verifier_failures)?,
        created_at: instant("request_tokens.created_at", row.created_at)?,
        expires_at: instant("request_tokens.expires_at", row.expires_at)?,
        decided_at: optional_instant("request_tokens.decided_at", row.decided_at)?,
        consumer_key: row.consumer_key,
        secret: EncryptedSecret(row.secret),
        callback: row.callback,
        user_id: row.user_id,
    })
}

/// A stored failure count as the core's counter.
pub(crate) fn failures(count: i32) -> Result<u32, StoreError> {
    u32::try_from(count).map_err(|_| corrupt("request_tokens.verifier_failures", "negative"))
}

/// A request token record as a row.
pub(crate) fn request_token_row(
    record: &RequestTokenRecord,
) -> Result<request_tokens::Model, StoreError> {
    Ok(request_tokens::Model {
        id: record.id,
        token_hash: record.token_hash.as_bytes().to_vec(),
        consumer_key: record.consumer_key.clone(),
        secret: record.secret.0.clone(),
        callback: record.callback.clone(),
        state: record.state.as_str().to_owned(),
        user_id: record.user_id.clone(),
        verifier_hash: record.verifier_hash.map(|h| h.as_bytes().to_vec()),
        verifier_failures: i32::try_from(record.verifier_failures)
            .map_err(|_| StoreError::Internal("verifier failure count too large".to_owned()))?,
        created_at: millis(record.created_at),
        expires_at: millis(record.expires_at),
        decided_at: record.decided_at.map(millis),
    })
}

/// An access token row as the core's record.
pub(crate) fn access_token(row: access_tokens::Model) -> Result<AccessTokenRecord, StoreError> {
    Ok(AccessTokenRecord {
        id: row.id,
        token_hash: hash("access_tokens.token_hash", &row.token_hash)?,
        created_at: instant("access_tokens.created_at", row.created_at)?,
        expires_at: instant("access_tokens.expires_at", row.expires_at)?,
        revoked_at: optional_instant("access_tokens.revoked_at", row.revoked_at)?,
        last_used_at: instant(
            "access_tokens.last_used_at",
            row.last_used_at.unwrap_or(row.created_at),
        )?,
        consumer_key: row.consumer_key,
        user_id: row.user_id,
        secret: EncryptedSecret(row.secret),
        request_token_id: row.request_token_id,
    })
}

/// An access token record as a row.
pub(crate) fn access_token_row(record: &AccessTokenRecord) -> access_tokens::Model {
    access_tokens::Model {
        id: record.id,
        token_hash: record.token_hash.as_bytes().to_vec(),
        consumer_key: record.consumer_key.clone(),
        user_id: record.user_id.clone(),
        secret: record.secret.0.clone(),
        request_token_id: record.request_token_id,
        created_at: millis(record.created_at),
        expires_at: millis(record.expires_at),
        revoked_at: record.revoked_at.map(millis),
        last_used_at: Some(millis(record.last_used_at)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::hash;

    #[test]
    fn signature_methods_round_trip_and_unknown_spellings_are_corrupt() {
        let methods = vec![SignatureMethod::RsaSha1, SignatureMethod::HmacSha1];
        assert_eq!(methods_text(&methods), "RSA-SHA1,HMAC-SHA1");
        assert_eq!(parse_methods("RSA-SHA1,HMAC-SHA1").ok(), Some(methods));
        assert_eq!(parse_methods("").ok(), Some(vec![]));
        assert!(parse_methods("RSA-SHA1,MD5").is_err());
    }

    #[test]
    fn short_hashes_and_negative_counts_are_corrupt() {
        assert!(hash("h", &[1, 2, 3]).is_err());
        assert!(failures(-1).is_err());
        assert_eq!(failures(3).ok(), Some(3));
    }
}
