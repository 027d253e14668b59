//! Writing as another principal, in another region: the built log-writer with
//! `TARGET_ROLE_ARN` and `TARGET_REGION`, against an emulator that checks every request's
//! signature and the caller's IAM policies (moto with `INITIAL_NO_AUTH_ACTION_COUNT`).
//!
//! The function's own identity may only assume the central writer role; only that role may
//! write. So events land only through the role, and the function's own credentials are refused:
//! the check itself works.

use std::process::Command;
use std::time::Duration;

use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::config::{Credentials, Region};
use logship_tests::{
    Function, LambdaProcess, Moto, RuntimeApi,
    moto::{python, tags_of},
    read_all, unique, workspace_root,
};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(30);

/// An emulator that checks signatures and policies after `tests/support/iam_setup.py` made the
/// principals, and what the script made.
struct Account {
    moto: Moto,
    principals: Value,
}

impl Account {
    fn start() -> Account {
        let script = workspace_root().join("tests/support/iam_setup.py");
        let actions = std::fs::read_to_string(&script)
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("ACTIONS = "))
            .expect("iam_setup.py declares ACTIONS")
            .trim()
            .to_owned();
        let moto = Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", &actions)]);
        let out = Command::new(python())
            .arg(&script)
            .arg(moto.endpoint())
            .output()
            .expect("run iam_setup.py");
        assert!(
            out.status.success(),
            "iam_setup.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let principals = serde_json::from_slice(&out.stdout).unwrap();
        Account { moto, principals }
    }

    fn key(&self, who: &str) -> (String, String) {
        let p = &self.principals[who];
        (
            p["key"].as_str().unwrap().to_owned(),
            p["secret"].as_str().unwrap().to_owned(),
        )
    }

    /// A client signing as `who` in `region`.
    async fn client(&self, who: &str, region: &'static str) -> Client {
        let (key, secret) = self.key(who);
        let config = logship::aws::config_loader()
            .region(Region::new(region))
            .credentials_provider(Credentials::new(key, secret, None, None, "static"))
            .endpoint_url(self.moto.endpoint())
            .load()
            .await;
        Client::new(&config)
    }

    /// The built log-writer with the function's own credentials and `env`.
    async fn log_writer(&self, env: &[(&str, &str)]) -> Function {
        self.function("log-writer", "function", env).await
    }

    /// The built function `name`, signing as `who`, with `env`.
    async fn function(&self, name: &str, who: &str, env: &[(&str, &str)]) -> Function {
        let api = RuntimeApi::start().await;
        let (key, secret) = self.key(who);
        let function_name = format!("logship-{name}");
        let mut all = vec![
            ("AWS_ENDPOINT_URL", self.moto.endpoint()),
            ("AWS_ACCESS_KEY_ID", key.as_str()),
            ("AWS_SECRET_ACCESS_KEY", secret.as_str()),
            ("AWS_LAMBDA_FUNCTION_NAME", function_name.as_str()),
        ];
        all.extend_from_slice(env);
        let process = LambdaProcess::spawn(name, &api.address(), &all);
        Function { api, process }
    }

    fn role(&self, which: &str) -> String {
        self.principals[which].as_str().unwrap().to_owned()
    }
}

fn request(group: &str, messages: &[&str]) -> Value {
    json!({"logGroup": group, "logStream": "app", "events": messages})
}

#[tokio::test]
async fn events_land_only_through_the_target_role_in_the_target_region() {
    let account = Account::start();
    let writer = account.role("writer");
    let f = account
        .log_writer(&[
            ("TARGET_ROLE_ARN", &writer),
            ("TARGET_REGION", "eu-west-1"),
            ("TARGET_EXTERNAL_ID", "central-logging-2026"),
            ("TARGET_TAGS", "team=payments,source-account=111122223333"),
        ])
        .await;
    let group = unique("/logship/central/app");
    for batch in [["one", "two"], ["three", "four"]] {
        let answer = f
            .api
            .invoke(request(&group, &batch), TIMEOUT)
            .await
            .response();
        assert_eq!(answer["written"], 2, "{answer}");
    }
    // In the target region, through the role; not in the function's own region.
    let eu = account.client("admin", "eu-west-1").await;
    let got: Vec<String> = read_all(&eu, &group, "app")
        .await
        .into_iter()
        .map(|e| e.1)
        .collect();
    assert_eq!(got, ["one", "two", "three", "four"]);
    let us = account.client("admin", "us-east-1").await;
    let here = us
        .describe_log_groups()
        .log_group_name_prefix(&group)
        .send()
        .await
        .unwrap();
    assert!(here.log_groups().is_empty(), "nothing in us-east-1");
    // The group the role created carries TARGET_TAGS.
    let created = eu
        .describe_log_groups()
        .log_group_name_prefix(&group)
        .send()
        .await
        .unwrap();
    let tags = tags_of(&eu, created.log_groups()[0].log_group_arn().unwrap()).await;
    assert_eq!(
        tags.get("team").map(String::as_str),
        Some("payments"),
        "{tags:?}"
    );
    assert_eq!(tags.len(), 2, "{tags:?}");
    assert!(f.summaries().iter().all(|s| s["conserved"] == true));
    // One AssumeRole for both invocations (the credentials are cached), as the function, with
    // the external id.
    let assumed = account.moto.calls(Some("AssumeRole"), None).await;
    assert_eq!(assumed.len(), 1, "{assumed:#?}");
    assert_eq!(
        (
            assumed[0]["status"].clone(),
            assumed[0]["request"]["RoleArn"].clone(),
            assumed[0]["request"]["RoleSessionName"].clone(),
            assumed[0]["request"]["ExternalId"].clone()
        ),
        (
            json!(200),
            json!(writer),
            json!("logship-logship-log-writer"),
            json!("central-logging-2026")
        )
    );

    // The function's own credentials may not write: without the role, the same request is
    // refused (the emulator really checks), as WriteFailed.
    let own = account.log_writer(&[]).await;
    let (error_type, message) = own
        .api
        .invoke(request(&unique("/logship/central/own"), &["x"]), TIMEOUT)
        .await
        .error();
    assert_eq!(error_type, "WriteFailed", "{message}");
    assert!(message.contains("AccessDenied"), "{message}");
}

#[tokio::test]
async fn a_role_that_cannot_be_assumed_fails_the_invocation_naming_it() {
    let account = Account::start();
    let forbidden = account.role("forbidden");
    let f = account.log_writer(&[("TARGET_ROLE_ARN", &forbidden)]).await;
    let group = unique("/logship/central/forbidden");
    let started = std::time::Instant::now();
    let (error_type, message) = f
        .api
        .invoke(request(&group, &["a", "b"]), TIMEOUT)
        .await
        .error();
    assert_eq!(error_type, "AssumeRoleFailed", "{message}");
    assert!(
        message.contains(&format!("could not assume TARGET_ROLE_ARN {forbidden}")),
        "{message}"
    );
    assert!(message.contains("AccessDenied"), "the reason: {message}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "not retried until the deadline: {:?}",
        started.elapsed()
    );
    let summary = &f.summaries()[0];
    assert_eq!(
        (summary["written"].clone(), summary["conserved"].clone()),
        (json!(0), json!(true)),
        "{summary}"
    );
}

#[tokio::test]
async fn the_reporter_queries_as_itself_and_writes_as_the_target_role() {
    let account = Account::start();
    let admin = account.client("admin", "us-east-1").await;
    let source = unique("/logship/source/app");
    admin
        .create_log_group()
        .log_group_name(&source)
        .send()
        .await
        .unwrap();
    admin
        .create_log_stream()
        .log_group_name(&source)
        .log_stream_name("s")
        .send()
        .await
        .unwrap();
    let scheduled = logship_tests::payloads::now_ms();
    let w = logship::insights::spec::Window::aligned(
        scheduled,
        Duration::from_secs(300),
        Duration::ZERO,
    );
    let events = (0..3).map(|i| {
        aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
            .timestamp(w.start_ms + i)
            .message(format!("row {i}"))
            .build()
            .unwrap()
    });
    admin
        .put_log_events()
        .log_group_name(&source)
        .log_stream_name("s")
        .set_log_events(Some(events.collect()))
        .send()
        .await
        .unwrap();
    let reports = unique("/logship/central/reports");
    let writer = account.role("writer");
    let f = account
        .function(
            "insights-reporter",
            "reporter",
            &[
                ("TARGET_LOG_GROUP", &reports),
                ("TARGET_ROLE_ARN", &writer),
                ("TARGET_REGION", "eu-west-1"),
            ],
        )
        .await;
    let spec = json!({"name": "rows", "query": "fields @timestamp, @message | sort @timestamp asc", "logGroups": [source],
                      "window": "5m", "scheduledTime": logship::insights::spec::rfc3339(scheduled)});
    let answer = f.api.invoke(spec, TIMEOUT).await.response();
    assert_eq!(answer["queries"][0]["rows"], 3, "{answer}");
    let eu = account.client("admin", "eu-west-1").await;
    assert_eq!(read_all(&eu, &reports, "rows").await.len(), 3);
    // The query ran as the reporter itself: the role was assumed once, for the writes only.
    assert_eq!(account.moto.calls(Some("AssumeRole"), None).await.len(), 1);
}
