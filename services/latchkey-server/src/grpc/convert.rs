//! Conversions between `latchkey.v1` messages and core types.

use latchkey_api::v1 as pb;
use latchkey_core::oauth1::dance::RequestTokenStatus;
use latchkey_core::oauth1::records::ConsumerRecord;
use latchkey_core::oauth1::{HttpRequest, SignatureMethod};
use latchkey_core::{AuthorityError, AuthorityResult};

/// The signed request inside a message, or `INVALID_ARGUMENT` naming the field.
pub fn http_request(request: Option<&pb::SignedRequest>) -> AuthorityResult<HttpRequest<'_>> {
    let request = request
        .ok_or_else(|| AuthorityError::invalid("request", "the signed request is required"))?;
    Ok(HttpRequest {
        method: &request.method,
        url: &request.url,
        authorization: &request.authorization,
        form_body: &request.form_body,
    })
}

/// A protobuf timestamp.
pub fn timestamp(at: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// The wire enum of a request token's status.
pub fn request_token_state(status: RequestTokenStatus) -> pb::RequestTokenState {
    match status {
        RequestTokenStatus::Pending => pb::RequestTokenState::Pending,
        RequestTokenStatus::Approved => pb::RequestTokenState::Approved,
        RequestTokenStatus::Denied => pb::RequestTokenState::Denied,
        RequestTokenStatus::Expired => pb::RequestTokenState::Expired,
        RequestTokenStatus::Used => pb::RequestTokenState::Used,
    }
}

/// Signature methods from their wire numbers.
pub fn signature_methods(values: &[i32]) -> AuthorityResult<Vec<SignatureMethod>> {
    values
        .iter()
        .map(|value| match pb::SignatureMethod::try_from(*value) {
            Ok(pb::SignatureMethod::RsaSha1) => Ok(SignatureMethod::RsaSha1),
            Ok(pb::SignatureMethod::HmacSha1) => Ok(SignatureMethod::HmacSha1),
            Ok(pb::SignatureMethod::Plaintext) => Ok(SignatureMethod::Plaintext),
            _ => Err(AuthorityError::invalid(
                "signature_methods",
                format!("unknown signature method {value}"),
            )),
        })
        .collect()
}

fn signature_method(method: SignatureMethod) -> pb::SignatureMethod {
    match method {
        SignatureMethod::RsaSha1 => pb::SignatureMethod::RsaSha1,
        SignatureMethod::HmacSha1 => pb::SignatureMethod::HmacSha1,
        SignatureMethod::Plaintext => pb::SignatureMethod::Plaintext,
    }
}

/// A consumer as the admin API shows it: never its secret.
pub fn consumer(record: ConsumerRecord) -> pb::Consumer {
    pb::Consumer {
        key: record.key,
        name: record.name,
        description: record.description,
        callback_url: record.callback_url.unwrap_or_default(),
        public_key_pem: record.public_key_pem.unwrap_or_default(),
        has_shared_secret: record.shared_secret.is_some(),
        signature_methods: record
            .signature_methods
            .into_iter()
            .map(|m| signature_method(m) as i32)
            .collect(),
        token_policy: Some(pb::TokenPolicy {
            access_token_ttl_seconds: record
                .access_token_ttl_seconds
                .and_then(|s| u64::try_from(s).ok())
                .unwrap_or(0),
            idle_timeout_seconds: record
                .access_token_idle_seconds
                .and_then(|s| u64::try_from(s).ok())
                .unwrap_or(0),
        }),
        enabled: record.enabled,
        created_at: Some(timestamp(record.created_at)),
        updated_at: Some(timestamp(record.updated_at)),
    }
}
