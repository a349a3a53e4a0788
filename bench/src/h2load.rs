//! h2load beside the bench's own generator, for the scenarios whose every call is the
//! same request (the no-op, bearer validation).
//!
//! The bench's tonic client costs the two shared cores about as much per call as the
//! server's no-op does, so it holds the cheapest calls' throughput down, and the ratio
//! of bearer to no-op with it. h2load (from nghttp2) is a C client that replays one
//! framed gRPC request body over N connections of M concurrent streams each: its calls
//! per second show what the server answers when the client costs little. It knows
//! nothing of gRPC, so the body is first sent once through tonic as raw bytes and must
//! be answered OK, and every h2load response must be HTTP 200.
//!
//! h2load is optional: `make bench` installs it (Debian's `nghttp2-client`); without
//! it the report says so and leaves the column empty.

use prost::bytes::{Buf, BufMut};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic::{Request, Status};

/// The program's name, found on `PATH`.
const PROGRAM: &str = "h2load";

/// One request as it goes on the wire: the method's path and the encoded message.
#[derive(Debug, Clone)]
pub struct FixedRequest {
    /// `/package.Service/Method`.
    pub path: &'static str,
    /// The protobuf message, unframed.
    pub message: Vec<u8>,
}

/// How h2load sends.
#[derive(Debug, Clone, Copy)]
pub struct Setup {
    /// Connections.
    pub connections: usize,
    /// Concurrent streams on each.
    pub streams: usize,
    /// Sent, not counted.
    pub warm_up: Duration,
    /// Counted.
    pub duration: Duration,
}

/// What h2load reported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures {
    /// Requests per second over the counted time.
    pub calls_per_second: f64,
    /// Requests answered in the counted time.
    pub done: u64,
    /// Those answered with HTTP 2xx.
    pub succeeded: u64,
    /// Those answered otherwise, or not at all.
    pub failed: u64,
}

/// The version line of the h2load on `PATH`, or `None` when there is none.
pub fn version() -> Option<String> {
    let output = Command::new(PROGRAM).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    output
        .status
        .success()
        .then(|| text.lines().next().unwrap_or(PROGRAM).trim().to_owned())
}

/// `message` framed as a gRPC request body: no compression, a 4-byte big-endian
/// length, the message.
pub fn frame(message: &[u8]) -> anyhow::Result<Vec<u8>> {
    let length = u32::try_from(message.len())?;
    let mut body = Vec::with_capacity(5 + message.len());
    body.push(0);
    body.extend_from_slice(&length.to_be_bytes());
    body.extend_from_slice(message);
    Ok(body)
}

/// Reads h2load's summary: the `finished in` and `requests:` lines.
pub fn parse(output: &str) -> Option<Figures> {
    let finished = output
        .lines()
        .find_map(|line| line.trim().strip_prefix("finished in "))?;
    let calls_per_second = finished
        .split(", ")
        .find_map(|part| part.strip_suffix(" req/s"))?
        .trim()
        .parse()
        .ok()?;
    let requests = output
        .lines()
        .find_map(|line| line.trim().strip_prefix("requests: "))?;
    let count = |name: &str| -> Option<u64> {
        requests.split(", ").find_map(|part| {
            let (number, label) = part.trim().split_once(' ')?;
            (label == name).then(|| number.parse().ok())?
        })
    };
    let done = count("done")?;
    let succeeded = count("succeeded")?;
    Some(Figures {
        calls_per_second,
        done,
        succeeded,
        failed: count("total")?.saturating_sub(succeeded),
    })
}

/// Sends `request` once through tonic as raw bytes: what h2load will replay must be a
/// call the server answers OK.
pub async fn check(channel: Channel, request: &FixedRequest) -> Result<(), Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|error| Status::unavailable(error.to_string()))?;
    grpc.unary(
        Request::new(request.message.clone()),
        PathAndQuery::from_static(request.path),
        RawCodec,
    )
    .await
    .map(drop)
}

/// Replays `request` against `127.0.0.1:port` with `setup`, the body written under
/// `folder`; h2load runs on a blocking thread and its figures come back.
pub async fn run(
    port: u16,
    request: &FixedRequest,
    setup: Setup,
    folder: &Path,
) -> anyhow::Result<Figures> {
    let body = folder.join("h2load-body.bin");
    std::fs::write(&body, frame(&request.message)?)?;
    let mut command = Command::new(PROGRAM);
    command
        .arg(format!("--clients={}", setup.connections.max(1)))
        .arg(format!("--max-concurrent-streams={}", setup.streams.max(1)))
        .arg(format!("--warm-up-time={}", setup.warm_up.as_secs().max(1)))
        .arg(format!("--duration={}", setup.duration.as_secs().max(1)))
        .arg(format!("--data={}", body.display()))
        .args(["--header", "content-type: application/grpc"])
        .args(["--header", "te: trailers"])
        .arg(format!("http://127.0.0.1:{port}{}", request.path));
    let output = tokio::task::spawn_blocking(move || command.output()).await??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(
        output.status.success(),
        "h2load failed ({}): {}{}",
        output.status,
        stdout,
        String::from_utf8_lossy(&output.stderr)
    );
    parse(&stdout).ok_or_else(|| anyhow::anyhow!("no summary in h2load's output: {stdout}"))
}

/// Bytes in, bytes out: the message goes on the wire as given.
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    /// h2load 1.52's summary, as it prints it after a timed run.
    const OUTPUT: &str = "\
starting benchmark...
spawning thread #0: 4 total client(s). Timing-based test with 2s of warm-up time and 6s of main duration for measurements.
Warm-up started for thread #0.
progress: 10% of clients started
Warm-up phase is over for thread #0.
Main benchmark duration is started for thread #0.
Main benchmark duration is over for thread #0. Stopping all clients.
Stopped all clients for thread #0

finished in 6.00s, 51234.17 req/s, 3.42MB/s
requests: 307405 total, 307469 started, 307405 done, 307401 succeeded, 4 failed, 0 errored, 0 timeout
status codes: 307401 2xx, 0 3xx, 0 4xx, 4 5xx
traffic: 20.52MB (21516388) total, 4.11MB (4306543) headers (space savings 94.12%), 5.28MB (5533290) data
";

    #[test]
    fn reads_the_rate_and_the_counts() {
        assert_eq!(
            parse(OUTPUT),
            Some(Figures {
                calls_per_second: 51234.17,
                done: 307405,
                succeeded: 307401,
                failed: 4,
            })
        );
    }

    #[test]
    fn output_without_a_summary_is_none() {
        assert_eq!(parse("starting benchmark...\n"), None);
        assert_eq!(
            parse("finished in 6.00s, 51234.17 req/s, 3.42MB/s\n"),
            None,
            "no requests line"
        );
    }

    #[test]
    fn frames_a_message_as_grpc_does() {
        assert_eq!(frame(b"").unwrap(), [0, 0, 0, 0, 0]);
        assert_eq!(
            frame(b"\x0a\x08liveness").unwrap(),
            b"\x00\x00\x00\x00\x0a\x0a\x08liveness"
        );
        let long = vec![7u8; 300];
        assert_eq!(frame(&long).unwrap()[..5], [0, 0, 0, 1, 44]);
    }
}
