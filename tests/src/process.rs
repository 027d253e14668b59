//! A built function binary run the way Lambda runs a `provided.al2023` bootstrap: the Lambda
//! environment variables, nothing of the developer's environment (their AWS profile, region or
//! endpoint must never reach a test), stdout/stderr captured for assertions on the logs.

use std::{
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Mutex, MutexGuard},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use serde_json::Value;

use crate::capture::Capture;

/// The message when a binary is missing: integration tests do not build other packages' bins.
const BUILD_FIRST: &str = "build it first: cargo build --bins (make test does)";

/// Where the built binary `name` is: `$LOGSHIP_BIN_DIR/<name>` if that is set (release or
/// cargo-lambda builds), else the profile directory of the running test binary
/// (`<target>/<profile>/`, so `CARGO_TARGET_DIR` and `--release` are followed), else
/// `$CARGO_TARGET_DIR/debug` or `<workspace>/target/debug`. Panics if it is not there.
pub fn binary(name: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("LOGSHIP_BIN_DIR").filter(|d| !d.is_empty()) {
        let path = PathBuf::from(dir).join(name);
        assert!(
            path.is_file(),
            "{} does not exist (LOGSHIP_BIN_DIR is set); {BUILD_FIRST}",
            path.display()
        );
        return path;
    }
    let mut candidates = Vec::new();
    // A test binary lives in <target>/<profile>/deps/.
    if let Ok(exe) = std::env::current_exe()
        && let Some(deps) = exe.parent()
        && deps.file_name().is_some_and(|n| n == "deps")
        && let Some(profile_dir) = deps.parent()
    {
        candidates.push(profile_dir.join(name));
    }
    let target = match std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        // A relative CARGO_TARGET_DIR is relative to where cargo ran; assume the workspace.
        Some(dir) => crate::workspace_root().join(dir),
        None => crate::workspace_root().join("target"),
    };
    candidates.push(target.join("debug").join(name));
    match candidates.iter().find(|p| p.is_file()) {
        Some(found) => found.clone(),
        None => panic!(
            "no built binary `{name}` (looked at {}); {BUILD_FIRST}",
            candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A running function process. Killed and reaped on drop, so a panicking test stops it too; if
/// the test is panicking, the tail of its output is printed to help explain why.
pub struct LambdaProcess {
    child: Mutex<Child>,
    pid: u32,
    function_name: String,
    stdout: Capture,
    stderr: Capture,
}

impl LambdaProcess {
    /// Runs the built binary `name` (see [`binary`]) as function `name`, polling the Runtime API
    /// at `runtime_api` (`RuntimeApi::address()`). `extra_env` comes last and wins, e.g.
    /// `AWS_ENDPOINT_URL`, `TARGET_LOG_GROUP`, `AWS_LAMBDA_LOG_LEVEL`.
    pub fn spawn(name: &str, runtime_api: &str, extra_env: &[(&str, &str)]) -> LambdaProcess {
        Self::spawn_command(&binary(name), &[], name, runtime_api, extra_env)
    }

    /// Runs any program in the Lambda environment (the binary under another name, a shell
    /// script in self-tests).
    pub fn spawn_command(
        program: &Path,
        args: &[&str],
        function_name: &str,
        runtime_api: &str,
        extra_env: &[(&str, &str)],
    ) -> LambdaProcess {
        let task_root = program
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("/"))
            .to_path_buf();
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_clear()
            .current_dir(&task_root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Only what a shell-less program could need of the host; everything AWS comes from us.
        for keep in ["PATH", "HOME"] {
            if let Some(v) = std::env::var_os(keep) {
                cmd.env(keep, v);
            }
        }
        for (k, v) in lambda_env(function_name, runtime_api, &task_root) {
            cmd.env(k, v);
        }
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: the closure runs between fork and exec and only makes async-signal-safe calls
        // (prctl, getppid), allocating nothing.
        unsafe {
            cmd.pre_exec(move || {
                // If the test process dies (killed, aborted), the kernel kills the function too;
                // Drop covers the orderly cases. Note: the signal is tied to the *thread* that
                // spawned the child (libtest's per-test thread), which outlives the value anyway.
                if libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                ) == -1
                {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent may have died before prctl took effect.
                if libc::getppid() != parent {
                    return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", program.display()));
        let pid = child.id();
        let stdout = Capture::start(
            child.stdout.take().expect("piped stdout"),
            format!("{function_name} stdout"),
            None,
        );
        let stderr = Capture::start(
            child.stderr.take().expect("piped stderr"),
            format!("{function_name} stderr"),
            None,
        );
        LambdaProcess {
            child: Mutex::new(child),
            pid,
            function_name: function_name.to_owned(),
            stdout,
            stderr,
        }
    }

    /// Every complete stdout line so far (including anything written before this call).
    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.lines()
    }

    /// Every complete stderr line so far (panics, backtraces).
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.lines()
    }

    /// The stdout lines that are JSON objects: with `AWS_LAMBDA_LOG_FORMAT=JSON` the function's
    /// structured logs, as CloudWatch would receive them.
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout_lines()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(Value::is_object)
            .collect()
    }

    /// Peak resident set size so far (`VmHWM` of /proc/<pid>/status), in KiB. Panics once the
    /// process has exited: read it while the function is still up.
    pub fn peak_rss_kib(&self) -> u64 {
        let path = format!("/proc/{}/status", self.pid);
        let status = std::fs::read_to_string(&path).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "no VmHWM in {path}: {} has exited ({:?}); read peak_rss_kib while it runs",
                    self.function_name,
                    self.exit_status()
                )
            })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether the process is still alive (not exited; reaps it if it has).
    pub fn is_running(&self) -> bool {
        self.exit_status().is_none()
    }

    /// The exit status, if the process has exited.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        self.child().try_wait().ok().flatten()
    }

    /// Waits (without blocking the async runtime, which may be serving this function's Runtime
    /// API) until the process exits; `None` if it is still running after `timeout`.
    pub async fn wait_exit(&self, timeout: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.exit_status() {
                return Some(status);
            }
            if start.elapsed() >= timeout {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILLs the process (if still running) and reaps it.
    pub fn kill(&self) -> ExitStatus {
        let mut child = self.child();
        let _ = child.kill();
        child
            .wait()
            .unwrap_or_else(|e| panic!("wait for {}: {e}", self.function_name))
    }

    fn child(&self) -> MutexGuard<'_, Child> {
        self.child.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for LambdaProcess {
    fn drop(&mut self) {
        let status = self.kill();
        if std::thread::panicking() {
            eprintln!(
                "--- {} (pid {}, {status}) stdout, last 40 lines:\n{}\n--- stderr, last 40 lines:\n{}\n---",
                self.function_name,
                self.pid,
                self.stdout.tail(40).join("\n"),
                self.stderr.tail(40).join("\n"),
            );
        }
    }
}

/// The variables Lambda sets for a custom runtime (the ones a Rust function can observe).
fn lambda_env(function_name: &str, runtime_api: &str, task_root: &Path) -> Vec<(String, String)> {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (year, month, day) = civil_date(secs / 86_400);
    let stream = format!(
        "{year:04}/{month:02}/{day:02}/[$LATEST]{:032x}",
        fastrand::u128(..)
    );
    [
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", function_name.to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{function_name}"),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME", stream),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_DEFAULT_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("LAMBDA_TASK_ROOT", task_root.display().to_string()),
        ("_HANDLER", "bootstrap".to_owned()),
        ("TZ", ":UTC".to_owned()),
        ("LANG", "en_US.UTF-8".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_date(days: u64) -> (i64, u32, u32) {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, extra_env: &[(&str, &str)]) -> LambdaProcess {
        LambdaProcess::spawn_command(
            Path::new("/bin/sh"),
            &["-c", script],
            "shell-fn",
            "127.0.0.1:1",
            extra_env,
        )
    }

    #[tokio::test]
    async fn runs_in_a_clean_lambda_environment() {
        // cargo sets CARGO_* and RUST_* for the test process: none may reach the function.
        let p = sh(
            "env | sort; echo '{\"level\":\"INFO\",\"n\":1}'; echo not-json; echo '[1]'; echo oops >&2",
            &[
                ("TARGET_LOG_GROUP", "/logship/x"),
                ("AWS_REGION", "eu-west-1"),
            ],
        );
        assert!(
            p.wait_exit(Duration::from_secs(10))
                .await
                .unwrap()
                .success()
        );
        let lines = p.stdout_lines();
        let env: std::collections::HashMap<_, _> =
            lines.iter().filter_map(|l| l.split_once('=')).collect();
        assert_eq!(env["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:1");
        assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "shell-fn");
        assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "128");
        assert_eq!(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
        assert_eq!(env["AWS_LAMBDA_LOG_GROUP_NAME"], "/aws/lambda/shell-fn");
        assert!(env["AWS_LAMBDA_LOG_STREAM_NAME"].contains("/[$LATEST]"));
        assert_eq!(env["AWS_LAMBDA_LOG_FORMAT"], "JSON");
        assert_eq!(env["AWS_DEFAULT_REGION"], "us-east-1");
        assert_eq!(env["AWS_REGION"], "eu-west-1", "extra env wins");
        assert_eq!(env["AWS_ACCESS_KEY_ID"], "test");
        assert_eq!(env["TARGET_LOG_GROUP"], "/logship/x");
        assert_eq!(env["LAMBDA_TASK_ROOT"], "/bin");
        for k in env.keys() {
            assert!(
                !k.starts_with("CARGO") && !k.starts_with("RUST") && *k != "AWS_PROFILE",
                "leaked {k}"
            );
        }
        assert_eq!(
            p.json_lines(),
            vec![serde_json::json!({"level": "INFO", "n": 1})]
        );
        assert_eq!(p.stderr_lines(), vec!["oops".to_string()]);
        assert!(!p.is_running());
    }

    #[tokio::test]
    async fn output_written_before_a_query_is_in_its_answer() {
        // The child writes a line, then signals through a file; the line must be visible the
        // moment the signal is seen, with no sleep, every time.
        let dir = std::env::temp_dir().join(crate::unique("capture"));
        std::fs::create_dir_all(&dir).unwrap();
        let flag = dir.join("flag");
        let script = format!(
            "i=0; while [ $i -lt 200 ]; do echo line$i; : > {}/flag$i; i=$((i+1)); sleep 0.002; done; sleep 5",
            dir.display()
        );
        let p = sh(&script, &[]);
        for i in 0..200 {
            let f = PathBuf::from(format!("{}{i}", flag.display()));
            while !f.exists() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let lines = p.stdout_lines();
            assert_eq!(lines.get(i), Some(&format!("line{i}")), "{lines:?}");
        }
        assert!(p.is_running());
        let rss = p.peak_rss_kib();
        assert!(rss > 0 && rss < 1_000_000, "{rss}");
        drop(p);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn drop_kills_and_reaps() {
        let p = sh("sleep 30", &[]);
        let pid = p.pid();
        assert!(p.is_running());
        drop(p);
        // Reaped: no such process any more (not even a zombie).
        assert!(!Path::new(&format!("/proc/{pid}")).exists());
    }

    #[test]
    fn missing_binaries_say_how_to_build_them() {
        let err = std::panic::catch_unwind(|| binary("no-such-function-binary")).unwrap_err();
        let msg = err.downcast_ref::<String>().unwrap();
        assert!(msg.contains("cargo build --bins"), "{msg}");
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(19_723), (2024, 1, 1));
        assert_eq!(civil_date(19_782), (2024, 2, 29));
    }
}
