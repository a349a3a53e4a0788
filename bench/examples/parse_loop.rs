//! Parses one typical HMAC-SHA1 resource request N times (the first argument, 10,000
//! by default) and nothing else, for counting instructions with callgrind: unlike
//! wall-clock time on a shared machine, the count repeats exactly, so two versions of
//! the parser compare by the difference of two counts (N and a smaller N, to take the
//! process's start-up out):
//!
//! ```text
//! cargo build --release -p latchkey-bench --example parse_loop
//! valgrind --tool=callgrind target/release/examples/parse_loop 11000
//! valgrind --tool=callgrind target/release/examples/parse_loop 1000
//! ```

use latchkey_core::oauth1::{HttpRequest, OAuthRequest};

const AUTHORIZATION: &str = "OAuth oauth_consumer_key=\"bench-hmac\", \
    oauth_token=\"Zq3x9PEmVq0b2m5mS1cN4p7LxwQeT8rYhJkU6aDfG2o\", \
    oauth_signature_method=\"HMAC-SHA1\", oauth_timestamp=\"1764410000\", \
    oauth_nonce=\"f1d2c3b4a5968778695a4b3c2d1e0f\", oauth_version=\"1.0\", \
    oauth_signature=\"74KNZJeDHnMBp0EMJ9ZHt%2FXKycU%3D\"";

fn main() -> anyhow::Result<()> {
    let http = HttpRequest {
        method: "GET",
        url: "https://jira.example.com/rest/api/2/myself?expand=groups",
        authorization: AUTHORIZATION,
        form_body: "",
    };
    let times: usize = match std::env::args().nth(1) {
        Some(given) => given.parse()?,
        None => 10_000,
    };
    let mut written = 0;
    for _ in 0..times {
        let parsed = OAuthRequest::parse(std::hint::black_box(&http))
            .map_err(|failure| anyhow::anyhow!("{failure:?}"))?;
        written += parsed.base_string.len();
    }
    println!("{times} parses, {written} bytes of base string");
    Ok(())
}
