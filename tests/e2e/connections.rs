//! Time and number limits on connections, as a hostile or broken client meets them:
//! headers dribbled in, kept-alive connections left idle, more connections than the
//! cap, HTTP/2 peers that stop answering pings or stay too long, and a stop while a
//! request is being answered. The clients are raw sockets that send exactly the bytes
//! a test names. Like the other transport scenarios these run on SQLite only: the
//! database plays no part in them.
//!
//! Every limit here is configured short (a second or so) and every wait for it is
//! several times longer: these tests check what happens, not how fast.

use crate::ecosystem::{Pki, https_connection};
use latchkey_server::config::Config;
use latchkey_server::http::REQUEST_TOKEN_PATH;
use latchkey_tests::consumer::Extras;
use latchkey_tests::flows::hmac_consumer;
use latchkey_tests::http::{Answer, client, pod_url, public_url};
use latchkey_tests::{Backend, TestApp};
use sea_orm::{ConnectionTrait, TransactionTrait};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, timeout};

mod sqlite_only {
    macro_rules! sqlite {
        ($($name:ident),+ $(,)?) => {$(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name().await;
            }
        )+};
    }
    sqlite!(
        headers_dribbled_in_or_never_sent_are_cut_at_the_header_timeout,
        a_kept_alive_connection_may_wait_past_the_header_timeout_and_is_closed_when_idle_too_long,
        past_the_connection_cap_a_new_connection_waits_until_one_closes,
        over_tls_a_silent_connection_is_cut_at_the_header_timeout_and_frees_its_slot,
        a_stop_lets_an_http_request_being_answered_finish_and_refuses_new_connections,
        an_http2_connection_learns_the_stream_limit_and_is_closed_when_it_stops_answering_pings,
        a_grpc_connection_past_its_maximum_age_is_sent_away_and_a_silent_one_closed,
        a_silent_grpc_connection_is_cut_at_the_first_byte_timeout_and_frees_its_slot_under_the_cap,
    );
}

/// A generous wait for something the server should do within a second or two.
const MARGIN: Duration = Duration::from_secs(5);

/// A complete request that needs no OAuth parameters to be answered (with a 400).
const REQUEST: &[u8] = b"GET /oauth/request-token HTTP/1.1\r\nHost: x\r\n\r\n";

async fn spawn(adjust: impl FnOnce(&mut Config)) -> TestApp {
    latchkey_tests::app::spawn_app_with(Backend::Sqlite, adjust)
        .await
        .unwrap()
}

async fn connect(port: u16) -> TcpStream {
    TcpStream::connect(("127.0.0.1", port)).await.unwrap()
}

/// Reads until the server closes the connection, for at most `within`; says how long
/// that took and what the server sent first.
async fn until_closed(
    stream: &mut (impl AsyncRead + Unpin),
    within: Duration,
) -> (Duration, Vec<u8>) {
    let started = Instant::now();
    let mut received = Vec::new();
    loop {
        let mut chunk = [0; 4096];
        match timeout(within, stream.read(&mut chunk)).await {
            Err(_) => panic!(
                "still open after {within:?}, having sent {:?}",
                String::from_utf8_lossy(&received)
            ),
            // A reset is as closed as an orderly end.
            Ok(Ok(0) | Err(_)) => return (started.elapsed(), received),
            Ok(Ok(read)) => received.extend_from_slice(&chunk[..read]),
        }
    }
}

/// Reads one whole answer (its head, then `Content-Length` bytes of body).
async fn read_answer(stream: &mut (impl AsyncRead + Unpin)) -> String {
    let mut bytes = Vec::new();
    loop {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|line| {
                    let line = line.to_ascii_lowercase();
                    line.strip_prefix("content-length:")
                        .map(|value| value.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if bytes.len() >= end + 4 + length {
                return text;
            }
        }
        let mut chunk = [0; 4096];
        let read = timeout(MARGIN, stream.read(&mut chunk))
            .await
            .expect("answered in time")
            .unwrap();
        assert!(read > 0, "closed before the answer was whole: {text:?}");
        bytes.extend_from_slice(&chunk[..read]);
    }
}

/// Sends [`REQUEST`] on a kept-alive connection and reads its answer.
async fn ask(stream: &mut TcpStream) -> String {
    stream.write_all(REQUEST).await.unwrap();
    let answer = read_answer(stream).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    answer
}

async fn headers_dribbled_in_or_never_sent_are_cut_at_the_header_timeout() {
    let app = spawn(|config| config.http.header_read_timeout_seconds = 1).await;

    // One byte every 100 ms: the head would take far longer than the timeout, yet the
    // connection is never quiet for long.
    let mut dribbled = connect(app.http_port).await;
    let (mut reader, mut writer) = dribbled.split();
    let head = format!(
        "GET {REQUEST_TOKEN_PATH} HTTP/1.1\r\nHost: x\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(200)
    );
    let dribble = async {
        for byte in head.bytes() {
            if writer.write_all(&[byte]).await.is_err() {
                return;
            }
            sleep(Duration::from_millis(100)).await;
        }
    };
    let (closed, ()) = tokio::join!(until_closed(&mut reader, MARGIN), dribble);
    let (after, answer) = closed;
    assert!(
        answer.is_empty(),
        "a cut connection gets no answer: {answer:?}"
    );
    assert!(
        after >= Duration::from_millis(900),
        "cut before the timeout: {after:?}"
    );
    drop(dribbled);

    // A connection that never sends a byte is cut the same way.
    let mut silent = connect(app.http_port).await;
    let _ = until_closed(&mut silent, MARGIN).await;

    // The listener still serves a client that sends its request whole.
    let mut prompt = connect(app.http_port).await;
    ask(&mut prompt).await;
    assert!(app.cleanup().await);
}

async fn a_kept_alive_connection_may_wait_past_the_header_timeout_and_is_closed_when_idle_too_long()
{
    let app = spawn(|config| {
        config.http.header_read_timeout_seconds = 1;
        config.http.idle_timeout_seconds = 4;
    })
    .await;
    let mut stream = connect(app.http_port).await;
    ask(&mut stream).await;

    // Idle for twice the header timeout but half the idle one: still open, and the
    // next request is served on the same connection.
    sleep(Duration::from_secs(2)).await;
    ask(&mut stream).await;

    // Left idle after that, it is closed, without an answer.
    let (after, sent) = until_closed(&mut stream, Duration::from_secs(4) + MARGIN).await;
    assert!(sent.is_empty(), "{:?}", String::from_utf8_lossy(&sent));
    assert!(
        after >= Duration::from_secs(3),
        "closed before the idle timeout: {after:?}"
    );
    assert!(app.cleanup().await);
}

async fn past_the_connection_cap_a_new_connection_waits_until_one_closes() {
    let app = spawn(|config| config.http.max_connections = 2).await;
    // Two connections are served and kept alive: together they hold the cap.
    let mut first = connect(app.http_port).await;
    ask(&mut first).await;
    let mut second = connect(app.http_port).await;
    ask(&mut second).await;

    // A third is left waiting, its request unread.
    let mut third = connect(app.http_port).await;
    third.write_all(REQUEST).await.unwrap();
    let waiting = timeout(Duration::from_secs(1), third.read(&mut [0; 64])).await;
    assert!(waiting.is_err(), "answered past the cap: {waiting:?}");

    // Once one of the two closes, the third is served, and the second still is.
    drop(first);
    let answer = read_answer(&mut third).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    ask(&mut second).await;
    assert!(app.cleanup().await);
}

async fn over_tls_a_silent_connection_is_cut_at_the_header_timeout_and_frees_its_slot() {
    let pki = Pki::generate();
    let app = spawn(|config| {
        pki.configure(config, false);
        config.http.header_read_timeout_seconds = 1;
        config.http.max_connections = 1;
    })
    .await;
    let port = app.http_port;
    // Takes the only slot and says nothing after its handshake.
    let mut silent = https_connection(&pki, port).await;
    let silent_closed = async {
        let _ = until_closed(&mut silent, MARGIN).await;
        Instant::now()
    };
    // Its TCP connection is queued at once; its handshake waits for the slot.
    let next = async {
        let mut tls = https_connection(&pki, port).await;
        tls.write_all(REQUEST).await.unwrap();
        let answer = read_answer(&mut tls).await;
        (Instant::now(), answer)
    };
    let (closed_at, next) = tokio::join!(silent_closed, timeout(MARGIN * 2, next));
    let (answered_at, answer) = next.expect("served once the slot was free");
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answered_at >= closed_at, "served while the cap was held");
    assert!(app.cleanup().await);
    let _ = std::fs::remove_dir_all(&pki.dir);
}

async fn a_stop_lets_an_http_request_being_answered_finish_and_refuses_new_connections() {
    let mut app = spawn(|_| {}).await;
    let consumer = hmac_consumer(&app, "stopping-http").await;
    // Hold the database's write lock, so the request is taken in and then waits
    // inside the server while the stop comes.
    let db = app.sql().await;
    let lock = db.begin().await.unwrap();
    lock.execute_unprepared("DELETE FROM nonces WHERE 1 = 0")
        .await
        .unwrap();
    let signed = consumer.sign(
        "POST",
        &public_url(REQUEST_TOKEN_PATH),
        &Extras {
            callback: Some("oob"),
            ..Extras::default()
        },
    );
    let request = client()
        .post(pod_url(&app, REQUEST_TOKEN_PATH))
        .header("authorization", signed.authorization)
        .send();
    let in_flight = tokio::spawn(async move { Answer::read(request.await.unwrap()).await });
    sleep(Duration::from_millis(700)).await;
    app.send_stop();
    sleep(Duration::from_millis(300)).await;

    let late = timeout(MARGIN, TcpStream::connect(("127.0.0.1", app.http_port)))
        .await
        .expect("a late connection is answered at once");
    assert!(late.is_err(), "the listener no longer accepts");

    lock.commit().await.unwrap();
    let _ = db.close().await;
    let answer = in_flight.await.unwrap();
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(app.cleanup().await, "the server stopped after its request");
}

/// HTTP/2's frame types and the settings the tests read (RFC 9113 section 6).
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const ACK: u8 = 0x1;
const SETTINGS_MAX_CONCURRENT_STREAMS: u16 = 0x3;

/// One HTTP/2 frame on stream 0.
fn frame(kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
    let length = u32::try_from(payload.len()).unwrap().to_be_bytes();
    let mut bytes = vec![length[1], length[2], length[3], kind, flags, 0, 0, 0, 0];
    bytes.extend_from_slice(payload);
    bytes
}

/// Opens an HTTP/2 connection to the gRPC port as a client would: the preface and an
/// empty SETTINGS frame, nothing more.
async fn http2_connection(port: u16) -> TcpStream {
    let mut stream = connect(port).await;
    let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    hello.extend(frame(SETTINGS, 0, &[]));
    stream.write_all(&hello).await.unwrap();
    stream
}

/// The next frame's type, flags and payload; `None` once the server has closed.
async fn next_frame(stream: &mut TcpStream) -> Option<(u8, u8, Vec<u8>)> {
    let mut head = [0; 9];
    stream.read_exact(&mut head).await.ok()?;
    let length = u32::from_be_bytes([0, head[0], head[1], head[2]]);
    let mut payload = vec![0; usize::try_from(length).unwrap()];
    stream.read_exact(&mut payload).await.ok()?;
    Some((head[3], head[4], payload))
}

/// The value of one setting in a SETTINGS payload.
fn setting(payload: &[u8], id: u16) -> Option<u32> {
    payload.chunks_exact(6).find_map(|entry| {
        (u16::from_be_bytes([entry[0], entry[1]]) == id)
            .then(|| u32::from_be_bytes([entry[2], entry[3], entry[4], entry[5]]))
    })
}

async fn an_http2_connection_learns_the_stream_limit_and_is_closed_when_it_stops_answering_pings() {
    let app = spawn(|config| {
        config.grpc.max_concurrent_streams = 123;
        config.grpc.http2_keepalive_interval_seconds = 1;
        config.grpc.http2_keepalive_timeout_seconds = 1;
    })
    .await;
    let mut stream = http2_connection(app.port).await;
    let (mut streams, mut pinged) = (None, false);
    let closed = timeout(MARGIN * 2, async {
        while let Some((kind, flags, payload)) = next_frame(&mut stream).await {
            match kind {
                SETTINGS if flags & ACK == 0 => {
                    streams = setting(&payload, SETTINGS_MAX_CONCURRENT_STREAMS);
                    stream.write_all(&frame(SETTINGS, ACK, &[])).await.unwrap();
                }
                // Left unanswered, as by a peer that has gone away.
                PING if flags & ACK == 0 => pinged = true,
                _ => {}
            }
        }
    })
    .await;
    assert_eq!(streams, Some(123), "SETTINGS_MAX_CONCURRENT_STREAMS");
    assert!(pinged, "the idle connection was pinged");
    assert!(
        closed.is_ok(),
        "the connection stayed open without answering pings"
    );
    assert!(app.cleanup().await);
}

async fn a_grpc_connection_past_its_maximum_age_is_sent_away_and_a_silent_one_closed() {
    let app = spawn(|config| config.grpc.max_connection_age_seconds = 1).await;
    let mut talking = http2_connection(app.port).await;
    let mut silent = connect(app.port).await;

    let mut sent_away = false;
    let closed = timeout(MARGIN, async {
        while let Some((kind, flags, payload)) = next_frame(&mut talking).await {
            match kind {
                SETTINGS if flags & ACK == 0 => {
                    talking.write_all(&frame(SETTINGS, ACK, &[])).await.unwrap();
                }
                PING if flags & ACK == 0 => {
                    talking
                        .write_all(&frame(PING, ACK, &payload))
                        .await
                        .unwrap();
                }
                GOAWAY => sent_away = true,
                _ => {}
            }
        }
    })
    .await;
    assert!(sent_away, "no GOAWAY at the maximum age");
    assert!(
        closed.is_ok(),
        "the connection stayed open after its GOAWAY"
    );

    // A connection that never began to speak HTTP is closed at its age too.
    let _ = until_closed(&mut silent, MARGIN).await;
    assert!(app.cleanup().await);
}

async fn a_silent_grpc_connection_is_cut_at_the_first_byte_timeout_and_frees_its_slot_under_the_cap()
 {
    let app = spawn(|config| {
        config.grpc.first_byte_timeout_seconds = 1;
        config.grpc.max_connections = 3;
    })
    .await;
    // The test's own client, one silent connection and one talking one hold the cap
    // of three.
    let mut silent = connect(app.port).await;
    let mut talking = http2_connection(app.port).await;
    let (kind, _, _) = next_frame(&mut talking).await.unwrap();
    assert_eq!(kind, SETTINGS);

    // A third is not served while both are open.
    let mut third = http2_connection(app.port).await;
    let waiting = timeout(Duration::from_millis(500), next_frame(&mut third)).await;
    assert!(waiting.is_err(), "served past the cap: {waiting:?}");

    // The silent one is cut at its first-byte timeout, long before its maximum age,
    // and the third takes its slot.
    let _ = until_closed(&mut silent, MARGIN).await;
    let served = timeout(MARGIN, next_frame(&mut third)).await;
    assert!(
        matches!(served, Ok(Some((SETTINGS, _, _)))),
        "the freed slot was not used: {served:?}"
    );
    // Raw connections that answer no GOAWAY would hold the graceful stop open.
    drop((talking, third));
    assert!(app.cleanup().await);
}
