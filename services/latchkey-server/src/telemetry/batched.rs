//! Log lines gathered in memory and written in batches by one thread.
//!
//! Every RPC logs a line, tens of thousands a second. Writing each line with its own
//! system call, or handing each to a writer thread that must be woken for it (as
//! `tracing-appender`'s non-blocking writer does when it is idle), costs more than
//! the validation it describes. Here a caller appends its line to a shared buffer
//! under a lock; the writer thread is woken once per batch, waits up to
//! [`FLUSH_INTERVAL`] for more lines (or until the batch is [`BATCH_BYTES`] long),
//! then swaps the buffer for an empty one and writes it with one call.
//!
//! What that trades: a line reaches standard output at most [`FLUSH_INTERVAL`] after
//! it was logged. Nothing is dropped: when the writer falls behind by
//! [`MAX_PENDING_BYTES`] (a slow pipe, say), callers wait for it, and dropping the
//! [`BatchedGuard`] writes whatever is left before it returns.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tracing_subscriber::fmt::MakeWriter;

/// The longest a line waits in memory before it is written.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(20);

/// A batch this long is written at once, without waiting for the interval.
pub const BATCH_BYTES: usize = 64 * 1024;

/// How far the writer may fall behind before callers wait for it.
pub const MAX_PENDING_BYTES: usize = 1024 * 1024;

/// Lines waiting for the writer thread.
#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    stopping: bool,
}

struct Shared {
    pending: Mutex<Pending>,
    /// Wakes the writer: the first line of a batch, a full batch, or stopping.
    to_writer: Condvar,
    /// Wakes callers waiting for room.
    room: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding the lock leaves only bytes behind; keep logging.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The [`MakeWriter`] to give the subscriber. Cheap to clone.
#[derive(Clone)]
pub struct BatchedWriter {
    shared: Arc<Shared>,
}

/// Stops the writer thread when dropped, after it has written every line.
pub struct BatchedGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the writer thread over `output`.
pub fn batched<W: Write + Send + 'static>(
    output: W,
    thread_name: &str,
) -> std::io::Result<(BatchedWriter, BatchedGuard)> {
    let shared = Arc::new(Shared {
        pending: Mutex::new(Pending::default()),
        to_writer: Condvar::new(),
        room: Condvar::new(),
    });
    let writer_side = shared.clone();
    let thread = std::thread::Builder::new()
        .name(thread_name.to_owned())
        .spawn(move || write_batches(&writer_side, output))?;
    Ok((
        BatchedWriter {
            shared: shared.clone(),
        },
        BatchedGuard {
            shared,
            thread: Some(thread),
        },
    ))
}

/// The writer thread: waits for a first line, gives the batch up to
/// [`FLUSH_INTERVAL`] to grow, writes it, and again until stopped.
fn write_batches<W: Write>(shared: &Shared, mut output: W) {
    let _released = ReleaseCallersOnExit(shared);
    let mut batch = Vec::with_capacity(BATCH_BYTES);
    loop {
        let mut pending = shared.lock();
        while pending.bytes.is_empty() && !pending.stopping {
            pending = shared
                .to_writer
                .wait(pending)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let deadline = Instant::now() + FLUSH_INTERVAL;
        while pending.bytes.len() < BATCH_BYTES && !pending.stopping {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            pending = shared
                .to_writer
                .wait_timeout(pending, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        std::mem::swap(&mut pending.bytes, &mut batch);
        let stopping = pending.stopping;
        drop(pending);
        shared.room.notify_all();
        // Standard output closed or full disk: there is nowhere to report it, and
        // the service must go on; the lines are lost, as they would be unbuffered.
        let _ = output.write_all(&batch).and_then(|()| output.flush());
        batch.clear();
        if stopping && shared.lock().bytes.is_empty() {
            return;
        }
    }
}

/// However the writer thread ends, even by a panic in the output, no caller is left
/// waiting for room it will never make: the buffer then only grows, as unbuffered
/// lines would be lost.
struct ReleaseCallersOnExit<'a>(&'a Shared);

impl Drop for ReleaseCallersOnExit<'_> {
    fn drop(&mut self) {
        self.0.lock().stopping = true;
        self.0.room.notify_all();
    }
}

/// One event's writer; the formatter writes each line with one `write_all`.
pub struct LineSink<'a> {
    shared: &'a Shared,
}

impl Write for LineSink<'_> {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut pending = self.shared.lock();
        while pending.bytes.len() >= MAX_PENDING_BYTES && !pending.stopping {
            pending = self
                .shared
                .room
                .wait(pending)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let before = pending.bytes.len();
        pending.bytes.extend_from_slice(line);
        let filled = before < BATCH_BYTES && pending.bytes.len() >= BATCH_BYTES;
        drop(pending);
        // The writer needs waking for a batch's first line, and for a full batch.
        if before == 0 || filled {
            self.shared.to_writer.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchedWriter {
    type Writer = LineSink<'a>;

    fn make_writer(&'a self) -> LineSink<'a> {
        LineSink {
            shared: &self.shared,
        }
    }
}

impl Drop for BatchedGuard {
    fn drop(&mut self) {
        self.shared.lock().stopping = true;
        self.shared.to_writer.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// What the writer thread wrote, shared with the test.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn log(writer: &BatchedWriter, line: &str) {
        writer.make_writer().write_all(line.as_bytes()).unwrap();
    }

    #[test]
    fn every_line_from_many_threads_arrives_whole_and_in_order_once_the_guard_drops() {
        let output = Captured::default();
        let (writer, guard) = batched(output.clone(), "test-log").unwrap();
        let threads: Vec<_> = (0..8)
            .map(|thread| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    for n in 0..2_000 {
                        log(
                            &writer,
                            &format!("thread {thread} line {n} {}\n", "x".repeat(n % 300)),
                        );
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        drop(guard);
        let text = output.text();
        let mut next = [0usize; 8];
        for line in text.lines() {
            let words: Vec<&str> = line.split(' ').collect();
            let (thread, n): (usize, usize) =
                (words[1].parse().unwrap(), words[3].parse().unwrap());
            assert_eq!(
                n, next[thread],
                "thread {thread}'s lines in order, none lost"
            );
            assert_eq!(words[4].len(), n % 300, "line {n} of thread {thread} whole");
            next[thread] += 1;
        }
        assert_eq!(next, [2_000; 8]);
    }

    #[test]
    fn a_lone_line_is_written_within_the_flush_interval_without_more_lines_or_a_stop() {
        let output = Captured::default();
        let (writer, _guard) = batched(output.clone(), "test-log").unwrap();
        log(&writer, "the only line\n");
        let logged = Instant::now();
        while output.text().is_empty() && logged.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(output.text(), "the only line\n");
        assert!(
            logged.elapsed() >= FLUSH_INTERVAL / 2,
            "gathered, not written at once"
        );
    }

    /// Standard output that blocks until the test opens it.
    #[derive(Clone)]
    struct Blocked {
        open: Arc<(Mutex<bool>, Condvar)>,
        inner: Captured,
    }

    impl Write for Blocked {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            let (open, opened) = &*self.open;
            let mut is_open = open.lock().unwrap();
            while !*is_open {
                is_open = opened.wait(is_open).unwrap();
            }
            self.inner.write(bytes)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Standard output whose first write panics.
    struct Panicking;

    impl Write for Panicking {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            panic!("the output failed");
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn callers_never_wait_for_a_writer_thread_that_has_died() {
        let (writer, guard) = batched(Panicking, "test-log").unwrap();
        log(&writer, "the line that kills the writer\n");
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let line = format!("{}\n", "z".repeat(1023));
            for _ in 0..3 * MAX_PENDING_BYTES / line.len() {
                log(&writer, &line);
            }
            let _ = done.send(());
        });
        assert!(
            finished.recv_timeout(Duration::from_secs(30)).is_ok(),
            "a caller waited for room that no writer would make"
        );
        drop(guard);
    }

    #[test]
    fn callers_wait_for_a_stuck_writer_rather_than_drop_lines() {
        let output = Blocked {
            open: Arc::new((Mutex::new(false), Condvar::new())),
            inner: Captured::default(),
        };
        let (writer, guard) = batched(output.clone(), "test-log").unwrap();
        let line = format!("{}\n", "y".repeat(1023));
        let lines = 3 * MAX_PENDING_BYTES / line.len();
        let finished = Arc::new(AtomicBool::new(false));
        let caller = {
            let (writer, line, finished) = (writer.clone(), line.clone(), finished.clone());
            std::thread::spawn(move || {
                for _ in 0..lines {
                    log(&writer, &line);
                }
                finished.store(true, Ordering::SeqCst);
            })
        };
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            !finished.load(Ordering::SeqCst),
            "the caller waits for room"
        );
        let pending = writer.shared.lock().bytes.len();
        assert!(
            pending <= MAX_PENDING_BYTES + line.len(),
            "{pending} bytes held"
        );
        let (open, opened) = &*output.open;
        *open.lock().unwrap() = true;
        opened.notify_all();
        caller.join().unwrap();
        drop(guard);
        assert_eq!(
            output.inner.text().len(),
            lines * line.len(),
            "no line lost"
        );
    }
}
