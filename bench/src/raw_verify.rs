//! One RSA-SHA1 (PKCS#1 v1.5, SHA-1) verify in each library the core could verify
//! with, on the same keys, message and signature, in this process: the figures that
//! chose the core's verifier (issue 21), with a 2048-bit key (the fixture consumer's)
//! and a 1024-bit one (what Jira generated for years).
//!
//! The candidates are timed in this thread's CPU time, in turns, several rounds each,
//! and each one's median round is reported, so that the machine's drift within the run
//! falls on all of them alike.
//! `aws-lc-rs` compiles AWS-LC and `openssl` links the system's libssl: they are timed
//! only in a bench built with `--features aws-lc` or `--features openssl`, which CI
//! never builds.

use crate::scenarios::thread_cpu_time;
use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use latchkey_core::oauth1::RsaVerifyingKey;
use latchkey_core::oauth1::signature::verify_rsa_sha1;
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding, Signer as _};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// A resource request's base string, as long as the ones the scenarios sign.
const MESSAGE: &[u8] = b"GET&https%3A%2F%2Fjira.example.com%2Frest%2Fapi%2F2%2Fmyself&expand%3Dgroups%26oauth_consumer_key%3Dbench-rsa%26oauth_nonce%3D3f2a9c8d1e7b4a6f%26oauth_signature_method%3DRSA-SHA1%26oauth_timestamp%3D1767225600%26oauth_token%3Dc2a1f0e9d8b7a6f5%26oauth_version%3D1.0";

/// One verification, failing if the signature does not verify.
type Verify = Box<dyn FnMut() -> anyhow::Result<()>>;
/// Sets a candidate up for one key: parses it as the candidate keeps it.
type Setup = fn(&Subject) -> anyhow::Result<Verify>;

/// A key to time every candidate with, and the signature they all check.
struct Subject {
    public: RsaPublicKey,
    signature: Vec<u8>,
}

impl Subject {
    fn new(private: &RsaPrivateKey) -> Self {
        let signature = SigningKey::<sha1::Sha1>::new(private.clone())
            .sign(MESSAGE)
            .to_vec();
        Subject {
            public: private.to_public_key(),
            signature,
        }
    }

    fn bits(&self) -> usize {
        self.public.n().bits()
    }
}

/// The pure-Rust `rsa` crate: the core's verifier before issue 21.
fn rsa_crate(subject: &Subject) -> anyhow::Result<Verify> {
    use rsa::signature::Verifier as _;
    let key = rsa::pkcs1v15::VerifyingKey::<sha1::Sha1>::new(subject.public.clone());
    let signature = rsa::pkcs1v15::Signature::try_from(subject.signature.as_slice())?;
    Ok(Box::new(move || Ok(key.verify(MESSAGE, &signature)?)))
}

/// `ring`, from the modulus and exponent (it sets the key up again on each call).
fn ring_components(subject: &Subject) -> anyhow::Result<Verify> {
    use ring::signature::{RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY, RsaPublicKeyComponents};
    let (n, e) = (
        subject.public.n().to_bytes_be(),
        subject.public.e().to_bytes_be(),
    );
    let signature = subject.signature.clone();
    Ok(Box::new(move || {
        RsaPublicKeyComponents { n: &n, e: &e }
            .verify(
                &RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
                MESSAGE,
                &signature,
            )
            .map_err(|_| anyhow::anyhow!("ring refused the signature"))
    }))
}

/// The core's `verify_rsa_sha1` as the server calls it: the signature in base64, the
/// key as the key cache holds it.
fn core_ring(subject: &Subject) -> anyhow::Result<Verify> {
    let key = RsaVerifyingKey::from(&subject.public);
    let signature = STANDARD.encode(&subject.signature);
    let message = std::str::from_utf8(MESSAGE)?;
    Ok(Box::new(move || {
        anyhow::ensure!(
            verify_rsa_sha1(message, &key, &signature),
            "the core refused the signature"
        );
        Ok(())
    }))
}

/// `aws-lc-rs`, with the key parsed once (`ParsedPublicKey`).
#[cfg(feature = "aws-lc")]
fn aws_lc_parsed(subject: &Subject) -> anyhow::Result<Verify> {
    use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY};
    use rsa::pkcs1::EncodeRsaPublicKey;
    let der = subject.public.to_pkcs1_der()?;
    let key = ParsedPublicKey::new(
        &RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
        der.as_bytes(),
    )
    .map_err(|error| anyhow::anyhow!("aws-lc-rs refused the key: {error}"))?;
    let signature = subject.signature.clone();
    Ok(Box::new(move || {
        key.verify_sig(MESSAGE, &signature)
            .map_err(|_| anyhow::anyhow!("aws-lc-rs refused the signature"))
    }))
}

/// `aws-lc-rs` from the modulus and exponent, as `ring`'s form is used.
#[cfg(feature = "aws-lc")]
fn aws_lc_components(subject: &Subject) -> anyhow::Result<Verify> {
    use aws_lc_rs::signature::{
        RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY, RsaPublicKeyComponents,
    };
    let (n, e) = (
        subject.public.n().to_bytes_be(),
        subject.public.e().to_bytes_be(),
    );
    let signature = subject.signature.clone();
    Ok(Box::new(move || {
        RsaPublicKeyComponents { n: &n, e: &e }
            .verify(
                &RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
                MESSAGE,
                &signature,
            )
            .map_err(|_| anyhow::anyhow!("aws-lc-rs refused the signature"))
    }))
}

/// The system's OpenSSL through the `openssl` crate, the key parsed once: what
/// `openssl speed rsa2048` measures, with a digest of the message on top.
#[cfg(feature = "openssl")]
fn openssl_parsed(subject: &Subject) -> anyhow::Result<Verify> {
    use openssl::bn::BigNum;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::sign::Verifier;
    let rsa = Rsa::from_public_components(
        BigNum::from_slice(&subject.public.n().to_bytes_be())?,
        BigNum::from_slice(&subject.public.e().to_bytes_be())?,
    )?;
    let key = PKey::from_rsa(rsa)?;
    let signature = subject.signature.clone();
    Ok(Box::new(move || {
        let verified =
            Verifier::new(MessageDigest::sha1(), &key)?.verify_oneshot(&signature, MESSAGE)?;
        anyhow::ensure!(verified, "OpenSSL refused the signature");
        Ok(())
    }))
}

/// Every candidate built into this bench, by name.
fn candidates() -> Vec<(&'static str, Setup)> {
    #[cfg_attr(not(any(feature = "aws-lc", feature = "openssl")), allow(unused_mut))]
    let mut candidates: Vec<(&'static str, Setup)> = vec![
        (
            "`rsa` 0.9 (pure Rust; the core's before issue 21)",
            rsa_crate,
        ),
        ("`ring` 0.17, `RsaPublicKeyComponents`", ring_components),
        (
            "the core's `verify_rsa_sha1` (`ring`, base64 decode included)",
            core_ring,
        ),
    ];
    #[cfg(feature = "aws-lc")]
    candidates.extend([
        (
            "`aws-lc-rs` 1.19, `ParsedPublicKey` (key parsed once)",
            aws_lc_parsed as Setup,
        ),
        (
            "`aws-lc-rs` 1.19, `RsaPublicKeyComponents`",
            aws_lc_components,
        ),
    ]);
    #[cfg(feature = "openssl")]
    candidates.push((
        "`openssl` 0.10 (the system's libssl), key parsed once",
        openssl_parsed,
    ));
    candidates
}

/// Rounds each candidate is timed in; the median is reported.
const ROUNDS: usize = 5;
/// How long one round of one candidate runs, about.
const ROUND: Duration = Duration::from_millis(150);

/// The mean CPU time of one `verify` on this thread over about [`ROUND`], after a few
/// warming calls. CPU time rather than wall time: the machine is shared, and a thread
/// waiting for a core would charge the wait to whichever candidate was running.
fn round(verify: &mut Verify) -> anyhow::Result<Duration> {
    let started = Instant::now();
    for _ in 0..5 {
        verify()?;
    }
    let estimate = started.elapsed() / 5;
    let iterations = (ROUND.as_nanos() / estimate.as_nanos().max(1)).clamp(20, 100_000) as u32;
    let started = thread_cpu_time()?;
    for _ in 0..iterations {
        verify()?;
    }
    Ok(thread_cpu_time()?.saturating_sub(started) / iterations)
}

/// One candidate's figure for one key size.
struct Timed {
    candidate: &'static str,
    bits: usize,
    median: Duration,
}

/// Times every candidate on both keys, the candidates taking turns within each round.
fn time_all(keys: &[RsaPrivateKey]) -> anyhow::Result<Vec<Timed>> {
    let mut timed = Vec::new();
    for private in keys {
        let subject = Subject::new(private);
        let mut verifiers = Vec::new();
        for (candidate, build) in candidates() {
            let verifier = build(&subject).with_context(|| format!("setting up {candidate}"))?;
            verifiers.push((candidate, verifier, Vec::with_capacity(ROUNDS)));
        }
        for _ in 0..ROUNDS {
            for (candidate, verifier, rounds) in &mut verifiers {
                rounds.push(round(verifier).with_context(|| format!("timing {candidate}"))?);
            }
        }
        for (candidate, _, mut rounds) in verifiers {
            rounds.sort();
            timed.push(Timed {
                candidate,
                bits: subject.bits(),
                median: rounds[ROUNDS / 2],
            });
        }
    }
    Ok(timed)
}

/// The mean CPU time of one RSA-SHA1 signature with `rsa`, what the bench's consumers
/// sign with (through `oauth1-request`): the client's share of the RSA dance.
fn sign_time(private: &RsaPrivateKey) -> anyhow::Result<Duration> {
    let key = SigningKey::<sha1::Sha1>::new(private.clone());
    let iterations = 50;
    let started = thread_cpu_time()?;
    for _ in 0..iterations {
        std::hint::black_box(key.sign(std::hint::black_box(MESSAGE)));
    }
    Ok(thread_cpu_time()?.saturating_sub(started) / iterations)
}

/// Writes the raw-verify table, every candidate built into this bench on a 2048-bit
/// and a 1024-bit key, and the signing time beside it.
pub fn write(report: &mut String, fixture: &RsaPrivateKey) -> anyhow::Result<()> {
    let small = RsaPrivateKey::new(&mut rand::thread_rng(), 1024)?;
    let keys = [fixture.clone(), small];
    let timed = time_all(&keys)?;
    let of = |candidate: &str, bits: usize| {
        timed
            .iter()
            .find(|t| t.candidate == candidate && t.bits == bits)
            .map_or(f64::NAN, |t| t.median.as_secs_f64() * 1e6)
    };
    writeln!(report)?;
    writeln!(
        report,
        "Raw RSA-SHA1 PKCS#1 v1.5 verify, CPU time on one thread of the load generator at the start of the run (median of {ROUNDS} rounds, candidates in turns):"
    )?;
    writeln!(report)?;
    writeln!(report, "| verifier | 2048-bit µs | 1024-bit µs |")?;
    writeln!(report, "|---|---:|---:|")?;
    for (candidate, _) in candidates() {
        writeln!(
            report,
            "| {candidate} | {:.1} | {:.1} |",
            of(candidate, 2048),
            of(candidate, 1024)
        )?;
    }
    writeln!(report)?;
    writeln!(
        report,
        "Raw RSA-SHA1 sign with `rsa` (how the bench's consumers sign), CPU time: {:.0} µs (2048-bit), {:.0} µs (1024-bit).",
        sign_time(&keys[0])?.as_secs_f64() * 1e6,
        sign_time(&keys[1])?.as_secs_f64() * 1e6,
    )?;
    Ok(())
}

/// One verification as the server runs it since issue 21, of a fixed signature with
/// the 2048-bit `fixture`: what the RSA-SHA1 scenario's server CPU is compared with.
pub fn server_verifier(fixture: &RsaPrivateKey) -> anyhow::Result<Verify> {
    core_ring(&Subject::new(fixture))
}
