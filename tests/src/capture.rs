//! Line capture of a child's stdout/stderr pipe.
//!
//! Why not a plain "reader thread pushes lines" design: a Lambda function logs and *then* posts its
//! response, so when `invoke` returns the log line is in the pipe but a reader thread may not have
//! picked it up yet, and a test asserting on it right away would flake. Here the pipe is
//! non-blocking and both the background thread and every query drain it under one lock: whatever
//! the child wrote before a query is in that query's answer.

use std::{
    collections::VecDeque,
    io::{ErrorKind, Read},
    os::fd::{AsRawFd, RawFd},
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, Ordering},
    },
    thread,
};

/// The read side of a pipe: `ChildStdout` or `ChildStderr`.
pub(crate) trait Pipe: Read + AsRawFd + Send + 'static {}
impl<T: Read + AsRawFd + Send + 'static> Pipe for T {}

struct Inner {
    pipe: Box<dyn Pipe>,
    fd: RawFd,
    /// Complete lines, oldest first (bounded by `max_lines` if set).
    lines: VecDeque<String>,
    /// Bytes after the last newline.
    partial: Vec<u8>,
    eof: bool,
    max_lines: Option<usize>,
    /// Echo each line to the test's stderr with this prefix (`LOGSHIP_ECHO` set).
    echo: Option<String>,
}

impl Inner {
    /// Reads everything currently in the pipe without blocking.
    fn drain(&mut self) {
        let mut chunk = [0u8; 16 * 1024];
        while !self.eof {
            match self.pipe.read(&mut chunk) {
                Ok(0) => {
                    self.eof = true;
                    if !self.partial.is_empty() {
                        let rest = std::mem::take(&mut self.partial);
                        self.push_line(&rest);
                    }
                }
                Ok(n) => self.take_bytes(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => self.eof = true,
            }
        }
    }

    fn take_bytes(&mut self, mut bytes: &[u8]) {
        while let Some(pos) = bytes.iter().position(|&b| b == b'\n') {
            if self.partial.is_empty() {
                self.push_line(&bytes[..pos]);
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(&bytes[..pos]);
                self.push_line(&line);
            }
            bytes = &bytes[pos + 1..];
        }
        self.partial.extend_from_slice(bytes);
    }

    fn push_line(&mut self, raw: &[u8]) {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = String::from_utf8_lossy(raw).into_owned();
        if let Some(prefix) = &self.echo {
            eprintln!("{prefix} {line}");
        }
        self.lines.push_back(line);
        if let Some(max) = self.max_lines {
            while self.lines.len() > max {
                self.lines.pop_front();
            }
        }
    }
}

/// Captures a pipe line by line until EOF; cheap to query at any time.
pub(crate) struct Capture {
    inner: Arc<Mutex<Inner>>,
    stop: Arc<AtomicBool>,
}

impl Capture {
    /// Starts capturing `pipe`. `label` names the stream in echoes (`LOGSHIP_ECHO=1`);
    /// `max_lines` bounds memory for chatty long-lived children (the emulator).
    pub(crate) fn start(pipe: impl Pipe, label: String, max_lines: Option<usize>) -> Capture {
        let fd = pipe.as_raw_fd();
        // SAFETY: fcntl on a valid fd we own; only flips O_NONBLOCK.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFL);
            if flags == -1 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) == -1 {
                panic!(
                    "fcntl(O_NONBLOCK) on {label}: {}",
                    std::io::Error::last_os_error()
                );
            }
        }
        let echo = std::env::var_os("LOGSHIP_ECHO")
            .filter(|v| !v.is_empty() && v != "0")
            .map(|_| format!("[{label}]"));
        let inner = Arc::new(Mutex::new(Inner {
            pipe: Box::new(pipe),
            fd,
            lines: VecDeque::new(),
            partial: Vec::new(),
            eof: false,
            max_lines,
            echo,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (thread_inner, thread_stop) = (inner.clone(), stop.clone());
        // Keeps the pipe drained while nobody queries, so the child never blocks on a full pipe.
        // Threads spawned here inherit libtest's output capture, so echoes land in the right test.
        thread::Builder::new()
            .name(format!("capture {label}"))
            .spawn(move || {
                while !thread_stop.load(Ordering::Relaxed) {
                    let fd = lock(&thread_inner).fd;
                    let mut pfd = libc::pollfd {
                        fd,
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    // SAFETY: one valid pollfd; the fd stays open while `thread_inner` lives.
                    // A timeout so a stop request is noticed even if the pipe stays silent.
                    unsafe { libc::poll(&mut pfd, 1, 200) };
                    let mut inner = lock(&thread_inner);
                    inner.drain();
                    if inner.eof {
                        break;
                    }
                }
            })
            .expect("spawn capture thread");
        Capture { inner, stop }
    }

    /// All complete lines so far, after draining what is in the pipe right now.
    pub(crate) fn lines(&self) -> Vec<String> {
        let mut inner = lock(&self.inner);
        inner.drain();
        inner.lines.iter().cloned().collect()
    }

    /// The last `n` lines (for failure messages).
    pub(crate) fn tail(&self, n: usize) -> Vec<String> {
        let mut inner = lock(&self.inner);
        inner.drain();
        let skip = inner.lines.len().saturating_sub(n);
        inner.lines.iter().skip(skip).cloned().collect()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A panic elsewhere while holding the lock must not hide the captured output.
fn lock(m: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
