//! A built function running under the test Runtime API, pointed at the shared emulator: what
//! every end-to-end test starts with.

use serde_json::Value;

use crate::{LambdaProcess, Moto, RuntimeApi};

/// The Runtime API a function polls, and the function's process (stopped on drop).
pub struct Function {
    pub api: RuntimeApi,
    pub process: LambdaProcess,
}

impl Function {
    /// Starts the built binary `name` under a fresh Runtime API, with `AWS_ENDPOINT_URL` set to
    /// the shared emulator (the SDK's standard variable: no endpoint flags in the code) and `env`.
    pub async fn start(name: &str, env: &[(&str, &str)]) -> Function {
        let api = RuntimeApi::start().await;
        let mut all = vec![("AWS_ENDPOINT_URL", Moto::shared().endpoint())];
        all.extend_from_slice(env);
        let process = LambdaProcess::spawn(name, &api.address(), &all);
        Function { api, process }
    }

    /// The function's failed init: waits for the process to exit (it must, unsuccessfully) and
    /// returns the `{"errorType", "errorMessage"}` it posted to `/runtime/init/error`.
    pub async fn failed_init(&self, timeout: std::time::Duration) -> Value {
        let status = self
            .process
            .wait_exit(timeout)
            .await
            .expect("the function exits at init");
        assert!(!status.success(), "the function exits with an error");
        self.api.init_error().expect("/init/error was posted")
    }

    /// The fields of every `invocation summary` line the function logged (JSON, as under
    /// Lambda's JSON log format).
    pub fn summaries(&self) -> Vec<Value> {
        self.process
            .json_lines()
            .into_iter()
            .filter(|l| l["fields"]["message"] == "invocation summary")
            .map(|l| l["fields"].clone())
            .collect()
    }
}
