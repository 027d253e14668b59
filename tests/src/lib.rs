//! Test support for logship: everything runs locally and for real.
//!
//! - [`moto::Moto`]: moto's server as CloudWatch Logs, with a strict PutLogEvents middleware;
//! - [`runtime_api::RuntimeApi`]: the Lambda Runtime API, in process;
//! - [`process::LambdaProcess`]: the built function binaries, run as Lambda runs a bootstrap.
//!
//! A typical test: `Moto::shared()`, `RuntimeApi::start()`, `LambdaProcess::spawn(name,
//! &api.address(), &[("AWS_ENDPOINT_URL", moto.endpoint()), ...])`, `api.invoke(event, timeout)`,
//! then read the target log group back with [`moto::read_all`].

mod capture;
pub mod function;
mod http;
pub mod moto;
pub mod payloads;
pub mod process;
pub mod runtime_api;

use std::{
    path::PathBuf,
    sync::atomic::{AtomicU64, Ordering},
};

pub use function::Function;
pub use moto::{Moto, read_all};
pub use process::{LambdaProcess, binary};
pub use runtime_api::{Invocation, RuntimeApi};

/// The workspace root (this crate lives in `<root>/tests`).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// A name no other test (in this process or a concurrent one) uses: `prefix-PID-N-RANDOM`.
/// Tests share one emulator, so every log group and stream gets one of these. Only characters
/// valid in log group names are added (`[A-Za-z0-9-]`).
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{prefix}-{}-{n}-{:06x}",
        std::process::id(),
        fastrand::u32(..0x0100_0000)
    )
}

/// A configuration lookup over `vars` (what the functions' `from_lookup` readers take), for
/// tests that configure a function in process.
pub fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
}

#[cfg(test)]
mod tests {
    #[test]
    fn unique_names_differ() {
        let a = super::unique("/logship/t");
        let b = super::unique("/logship/t");
        assert_ne!(a, b);
        assert!(a.starts_with("/logship/t-"));
    }

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        let manifest = std::fs::read_to_string(super::workspace_root().join("Cargo.toml")).unwrap();
        assert!(manifest.contains("[workspace]"));
    }
}
