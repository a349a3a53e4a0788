//! Bytes that are not the message a method takes are the caller's mistake, so every
//! service answers them `INVALID_ARGUMENT`, never `INTERNAL`; an oversize message keeps
//! its own code. Requests are sent as raw bytes, past the generated clients' types.

use latchkey_api::v1 as pb;
use latchkey_server::config::Config;
use latchkey_tests::TestApp;
use latchkey_tests::app::{ADMIN, FRONTEND};
use latchkey_tests::flows::hmac_consumer;
use prost::Message;
use prost::bytes::{Buf, BufMut};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic::{Code, Status};

on_both_backends_with!(
    small_limit,
    with_a_16_kib_message_limit =>
    bytes_that_are_no_message_are_invalid_argument_on_both_services,
    invalid_utf8_in_a_string_field_is_invalid_argument,
    an_oversize_message_is_still_out_of_range,
    an_undecodable_grpc_web_call_is_invalid_argument,
);

const MESSAGE_LIMIT: usize = 16 * 1024;

fn with_a_16_kib_message_limit(config: &mut Config) {
    config.grpc.max_message_bytes = MESSAGE_LIMIT;
}

const VALIDATE_ACCESS: &str = "/latchkey.v1.TokenAuthority/ValidateAccess";
const ISSUE_REQUEST_TOKEN: &str = "/latchkey.v1.TokenAuthority/IssueRequestToken";
const DESCRIBE_REQUEST_TOKEN: &str = "/latchkey.v1.TokenAuthority/DescribeRequestToken";
const GET_CONSUMER: &str = "/latchkey.v1.ConsumerAdmin/GetConsumer";
const REGISTER_CONSUMER: &str = "/latchkey.v1.ConsumerAdmin/RegisterConsumer";

/// No protobuf message: a varint that never ends, a length past the end, wire type 7.
const GARBAGE: [&[u8]; 3] = [&[0xff; 11], b"\x0a\x10abc", b"\x0f"];

/// Bytes in, bytes out: the request goes on the wire exactly as the test wrote it.
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        buf.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(buf.copy_to_bytes(buf.remaining()).to_vec()))
    }
}

/// Sends `bytes` as the request of `method` (with `credential`, unless empty) and
/// returns the answer's bytes.
async fn send_raw(
    app: &TestApp,
    method: &'static str,
    credential: &str,
    bytes: Vec<u8>,
) -> Result<Vec<u8>, Status> {
    let channel = Channel::from_shared(format!("http://127.0.0.1:{}", app.port))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let mut request = tonic::Request::new(bytes);
    if !credential.is_empty() {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {credential}").parse().unwrap(),
        );
    }
    grpc.unary(request, PathAndQuery::from_static(method), RawCodec)
        .await
        .map(tonic::Response::into_inner)
}

#[track_caller]
fn assert_invalid_argument(answer: Result<Vec<u8>, Status>, what: &str) {
    let status = answer.expect_err(what);
    assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
    assert!(status.message().contains("protobuf"), "{what}: {status:?}");
}

/// `message` encoded, with the bytes of `placeholder` (in one string field) replaced
/// by as many bytes that are not UTF-8.
fn with_invalid_utf8(message: &impl Message, placeholder: &str) -> Vec<u8> {
    let mut bytes = message.encode_to_vec();
    let at = bytes
        .windows(placeholder.len())
        .position(|window| window == placeholder.as_bytes())
        .unwrap();
    bytes[at..at + placeholder.len()].fill(0xff);
    bytes
}

async fn bytes_that_are_no_message_are_invalid_argument_on_both_services(app: &TestApp) {
    for (method, credential) in [
        (VALIDATE_ACCESS, ""),
        (ISSUE_REQUEST_TOKEN, ""),
        (DESCRIBE_REQUEST_TOKEN, FRONTEND),
        (GET_CONSUMER, ADMIN),
        (REGISTER_CONSUMER, ADMIN),
    ] {
        for garbage in GARBAGE {
            let answer = send_raw(app, method, credential, garbage.to_vec()).await;
            assert_invalid_argument(answer, &format!("{method} with {garbage:?}"));
        }
    }
    // The server goes on serving well-formed calls.
    hmac_consumer(app, "still-served").await;
}

async fn invalid_utf8_in_a_string_field_is_invalid_argument(app: &TestApp) {
    let validate = pb::ValidateAccessRequest {
        request: Some(pb::validate_access_request::Request::Signed(
            pb::SignedRequest {
                method: "PLACEHOLDER".into(),
                url: "https://auth.example.com/rest/api".into(),
                ..Default::default()
            },
        )),
    };
    let answer = send_raw(
        app,
        VALIDATE_ACCESS,
        "",
        with_invalid_utf8(&validate, "PLACEHOLDER"),
    )
    .await;
    assert_invalid_argument(answer, "ValidateAccess with a method that is not UTF-8");

    let get = pb::GetConsumerRequest {
        key: "PLACEHOLDER".into(),
    };
    let answer = send_raw(
        app,
        GET_CONSUMER,
        ADMIN,
        with_invalid_utf8(&get, "PLACEHOLDER"),
    )
    .await;
    assert_invalid_argument(answer, "GetConsumer with a key that is not UTF-8");
}

async fn an_oversize_message_is_still_out_of_range(app: &TestApp) {
    let status = send_raw(app, VALIDATE_ACCESS, "", vec![0xff; 2 * MESSAGE_LIMIT])
        .await
        .expect_err("a message over the limit is refused");
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
}

async fn an_undecodable_grpc_web_call_is_invalid_argument(app: &TestApp) {
    let mut frame = vec![0];
    frame.extend_from_slice(&u32::try_from(GARBAGE[0].len()).unwrap().to_be_bytes());
    frame.extend_from_slice(GARBAGE[0]);
    let answer = reqwest::Client::builder()
        .http1_only()
        .build()
        .unwrap()
        .post(format!("http://127.0.0.1:{}{VALIDATE_ACCESS}", app.port))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .body(frame)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    // The status comes in the headers of a trailers-only answer, or in the trailers
    // frame at the end of the body.
    let in_headers = answer
        .headers()
        .get("grpc-status")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = answer.bytes().await.unwrap();
    let status = in_headers.unwrap_or_else(|| {
        let trailers = String::from_utf8_lossy(&body[5..]).to_ascii_lowercase();
        trailers
            .lines()
            .find_map(|line| line.strip_prefix("grpc-status:"))
            .unwrap()
            .trim()
            .to_owned()
    });
    assert_eq!(status, (Code::InvalidArgument as i32).to_string());
}
