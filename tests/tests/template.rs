//! template.yaml against the code: every function's environment names only variables its code
//! reads, sets every variable it requires with values the code accepts; least-privilege IAM;
//! the event wiring of each function. (cfn-lint checks the CloudFormation itself; it does not
//! know what the code reads, nor flag a wrong runtime.)

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use logship::config::{ConfigError, ReceiverConfig};
use logship::insights::query::QueryRunner;
use logship::insights::{Reporter, ReporterConfig};
use logship::log_writer::LogWriterConfig;
use logship::writer::{Writer, WriterOptions};
use logship_tests::workspace_root;
use serde_yaml::Value;

fn template() -> Value {
    let text = std::fs::read_to_string(workspace_root().join("template.yaml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v:?}"))
}

/// Parameter defaults, for resolving `!Ref Param`.
fn defaults(t: &Value) -> BTreeMap<String, String> {
    t["Parameters"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                s(k).to_string(),
                v["Default"].as_str().map(String::from).unwrap_or_default(),
            )
        })
        .collect()
}

/// A function's environment with `!Ref Param` resolved to the parameter's default.
fn environment(t: &Value, function: &str) -> BTreeMap<String, String> {
    let params = defaults(t);
    let vars = &t["Resources"][function]["Properties"]["Environment"]["Variables"];
    vars.as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let value = match v {
                Value::String(x) => x.clone(),
                Value::Tagged(tagged) if tagged.tag == "!Ref" => {
                    params.get(s(&tagged.value)).cloned().unwrap_or_else(|| {
                        panic!("{function}: !Ref {:?} is no parameter", tagged.value)
                    })
                }
                other => panic!("{function}: unexpected value {other:?}"),
            };
            (s(k).to_string(), value)
        })
        .collect()
}

/// Runs a config reader over `env`, recording every variable it looks up.
fn reads<T>(
    env: &BTreeMap<String, String>,
    read: impl Fn(&dyn Fn(&str) -> Option<String>) -> Result<T, ConfigError>,
) -> (BTreeSet<String>, Result<T, ConfigError>) {
    let seen = RefCell::new(BTreeSet::new());
    let lookup = |k: &str| {
        seen.borrow_mut().insert(k.to_string());
        env.get(k).cloned()
    };
    let r = read(&lookup);
    (seen.into_inner(), r)
}

fn check_environment<T: std::fmt::Debug>(
    t: &Value,
    function: &str,
    read: impl Fn(&dyn Fn(&str) -> Option<String>) -> Result<T, ConfigError>,
) {
    let env = environment(t, function);
    let (read_vars, result) = reads(&env, read);
    result.unwrap_or_else(|e| {
        panic!("{function}: the template's environment does not configure the code: {e}")
    });
    let unread: Vec<&String> = env.keys().filter(|k| !read_vars.contains(*k)).collect();
    assert!(
        unread.is_empty(),
        "{function} sets variables its code never reads: {unread:?} (it reads {read_vars:?})"
    );
    assert!(
        env.keys().all(|k| !k.starts_with("AWS_")),
        "{function}: AWS_* variables are Lambda's to set"
    );
}

#[test]
fn every_function_is_configured_with_exactly_what_its_code_reads() {
    let t = template();
    check_environment(&t, "SubscriptionReceiver", |get| {
        ReceiverConfig::from_lookup(get)
    });
    check_environment(&t, "LogWriter", |get| LogWriterConfig::from_lookup(get));
    check_environment(&t, "InsightsReporter", |get| {
        ReporterConfig::from_lookup(get)
    });
    // Leaving out a required variable fails, naming it (the check above is not vacuous).
    let mut env = environment(&t, "SubscriptionReceiver");
    env.remove("TARGET_LOG_GROUP");
    assert_eq!(
        reads(&env, |get| ReceiverConfig::from_lookup(get))
            .1
            .unwrap_err()
            .to_string(),
        "TARGET_LOG_GROUP is required but not set"
    );
}

#[test]
fn every_function_runs_as_built() {
    let t = template();
    let globals = &t["Globals"]["Function"];
    assert_eq!(s(&globals["Runtime"]), "provided.al2023");
    assert_eq!(
        globals["Architectures"],
        serde_yaml::from_str::<Value>("[arm64]").unwrap()
    );
    assert_eq!(s(&globals["Handler"]), "bootstrap");
    let workspace = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
    for (function, binary) in [
        ("SubscriptionReceiver", "subscription-receiver"),
        ("LogWriter", "log-writer"),
        ("InsightsReporter", "insights-reporter"),
    ] {
        let f = &t["Resources"][function];
        assert_eq!(s(&f["Type"]), "AWS::Serverless::Function");
        assert_eq!(s(&f["Metadata"]["BuildMethod"]), "rust-cargolambda");
        assert_eq!(s(&f["Metadata"]["BuildProperties"]["Binary"]), binary);
        assert!(
            workspace.contains(&format!("\"functions/{binary}\"")),
            "{binary} is a workspace member"
        );
        let p = &f["Properties"];
        assert!(
            p["MemorySize"].as_u64().is_some() && p["Timeout"].as_u64().is_some(),
            "{function}: memory and timeout set"
        );
        assert_eq!(s(&p["LoggingConfig"]["LogFormat"]), "JSON");
        let Value::Tagged(group_ref) = &p["LoggingConfig"]["LogGroup"] else {
            panic!("{function}: LoggingConfig.LogGroup is a !Ref")
        };
        let group = &t["Resources"][s(&group_ref.value)];
        assert_eq!(s(&group["Type"]), "AWS::Logs::LogGroup");
        assert!(
            group["Properties"]["RetentionInDays"].as_u64().is_some(),
            "{function}'s log group has a retention"
        );
    }
}

/// Every IAM statement of the template (function policies and roles).
fn statements(t: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    fn walk(owner: &str, v: &Value, out: &mut Vec<(String, Value)>) {
        match v {
            Value::Mapping(m) => {
                if let Some(Value::Sequence(st)) = m.get("Statement") {
                    out.extend(st.iter().map(|x| (owner.to_string(), x.clone())));
                }
                m.values().for_each(|x| walk(owner, x, out));
            }
            Value::Sequence(sq) => sq.iter().for_each(|x| walk(owner, x, out)),
            Value::Tagged(tg) => walk(owner, &tg.value, out),
            _ => {}
        }
    }
    for (name, r) in t["Resources"].as_mapping().unwrap() {
        if let Some(name) = name.as_str() {
            walk(name, r, &mut out);
        }
    }
    out
}

fn actions(st: &Value) -> Vec<String> {
    match &st["Action"] {
        Value::String(a) => vec![a.clone()],
        Value::Sequence(a) => a.iter().map(|x| s(x).to_string()).collect(),
        other => panic!("Action {other:?}"),
    }
}

fn text(v: &Value) -> String {
    serde_yaml::to_string(v).unwrap()
}

#[test]
fn iam_is_least_privilege() {
    let t = template();
    let all = statements(&t);
    assert!(all.len() >= 6);
    for (owner, st) in &all {
        for a in actions(st) {
            assert!(
                a != "*" && !a.ends_with(":*"),
                "{owner}: wildcard action {a}"
            );
        }
        let resource = text(&st["Resource"]);
        let wildcard = resource.trim() == "'*'";
        if wildcard {
            let allowed = [
                "logs:GetQueryResults",
                "logs:StopQuery",
                "kinesis:ListStreams",
            ];
            assert!(
                actions(st).iter().all(|a| allowed.contains(&a.as_str())),
                "{owner}: {:?} on Resource \"*\"",
                actions(st)
            );
        }
        let writes = actions(st).iter().any(|a| {
            [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:PutRetentionPolicy",
            ]
            .contains(&a.as_str())
        });
        if writes {
            let scope = match owner.as_str() {
                "SubscriptionReceiver" => "TargetLogGroup",
                "LogWriter" => "WriterLogGroupPrefix",
                "InsightsReporter" => "ReportLogGroup",
                other => panic!("{other} may not write logs"),
            };
            assert!(
                resource.contains(scope),
                "{owner} writes only under {scope}: {resource}"
            );
        }
        if actions(st).iter().any(|a| a == "logs:StartQuery") {
            assert!(
                !wildcard && resource.contains("ReportLogGroupNames"),
                "StartQuery only on the queried groups: {resource}"
            );
        }
    }
}

#[test]
fn events_failures_and_loop_guard_are_wired() {
    let t = template();
    let r = &t["Resources"];
    // Receiver: asynchronous failures go to a queue after bounded retries.
    let invoke = &r["SubscriptionReceiver"]["Properties"]["EventInvokeConfig"];
    assert!(invoke["MaximumRetryAttempts"].as_u64().unwrap() <= 2);
    assert_eq!(s(&invoke["DestinationConfig"]["OnFailure"]["Type"]), "SQS");
    // Receiver, Kinesis path: partial batch responses, bisect, on-failure destination.
    let esm = &r["ReceiverStreamMapping"];
    assert_eq!(s(&esm["Condition"]), "ViaKinesis");
    assert_eq!(
        text(&esm["Properties"]["FunctionResponseTypes"]).trim(),
        "- ReportBatchItemFailures"
    );
    assert_eq!(
        esm["Properties"]["BisectBatchOnFunctionError"],
        Value::Bool(true)
    );
    assert!(matches!(
        esm["Properties"]["DestinationConfig"]["OnFailure"]["Destination"],
        Value::Tagged(_)
    ));
    // Receiver: one subscription filter per source group.
    let each = &r["Fn::ForEach::Sources"];
    assert!(text(&each[1]).contains("SourceLogGroupNames"));
    assert_eq!(
        s(&each[2]["Subscription&{Source}"]["Type"]),
        "AWS::Logs::SubscriptionFilter"
    );
    // The loop guard: the receiver's own group and the target group are never sources.
    let rules = text(&t["Rules"]["NoShippingLoops"]);
    assert!(
        rules.contains("-subscription-receiver")
            && rules.contains("TargetLogGroup")
            && rules.contains("SourceLogGroupNames"),
        "{rules}"
    );
    // log-writer: SQS with partial batch responses, and a redrive policy to a DLQ.
    let q = &r["LogWriter"]["Properties"]["Events"]["Queue"];
    assert_eq!(s(&q["Type"]), "SQS");
    assert_eq!(
        text(&q["Properties"]["FunctionResponseTypes"]).trim(),
        "- ReportBatchItemFailures"
    );
    assert!(
        r["WriterQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"]
            .as_u64()
            .is_some()
    );
    let visibility = r["WriterQueue"]["Properties"]["VisibilityTimeout"]
        .as_u64()
        .unwrap();
    assert!(visibility >= 6 * r["LogWriter"]["Properties"]["Timeout"].as_u64().unwrap());
    // insights-reporter: EventBridge Scheduler with retries and a DLQ.
    let sch = &r["InsightsReporter"]["Properties"]["Events"]["Schedule"];
    assert_eq!(s(&sch["Type"]), "ScheduleV2");
    assert!(
        sch["Properties"]["RetryPolicy"]["MaximumRetryAttempts"]
            .as_u64()
            .is_some()
    );
    assert!(matches!(
        sch["Properties"]["DeadLetterConfig"]["Arn"],
        Value::Tagged(_)
    ));
    for output in [
        "SubscriptionReceiverArn",
        "LogWriterArn",
        "InsightsReporterArn",
        "WriterQueueUrl",
        "WriterDeadLetterQueueUrl",
        "ReceiverFailureQueueUrl",
        "ReporterScheduleDeadLetterQueueUrl",
    ] {
        assert!(t["Outputs"].get(output).is_some(), "output {output}");
    }
}

#[tokio::test]
async fn the_schedule_input_is_a_spec_the_reporter_accepts() {
    let t = template();
    let params = defaults(&t);
    // Input: !Sub [ text, { Groups: !Join ['","', !Ref ReportLogGroupNames] } ]
    let Value::Tagged(sub) = &t["Resources"]["InsightsReporter"]["Properties"]["Events"]["Schedule"]
        ["Properties"]["Input"]
    else {
        panic!("Input is a !Sub")
    };
    assert_eq!(sub.tag, "!Sub");
    let mut input = s(&sub.value[0]).to_string();
    input = input.replace(
        "${Groups}",
        &params["ReportLogGroupNames"]
            .split(',')
            .collect::<Vec<_>>()
            .join("\",\""),
    );
    for (k, v) in &params {
        input = input.replace(&format!("${{{k}}}"), v);
    }
    assert!(!input.contains("${"), "{input}");
    // EventBridge Scheduler fills in the context attribute.
    let input = input.replace("<aws.scheduler.scheduled-time>", "2026-11-22T01:05:00Z");
    let event: serde_json::Value = serde_json::from_str(&input)
        .unwrap_or_else(|e| panic!("the schedule's input is not JSON ({e}): {input}"));
    let env = environment(&t, "InsightsReporter");
    let config = ReporterConfig::from_lookup(|k| env.get(k).cloned()).unwrap();
    // A client that is never called: parsing the specs needs none of the network.
    let sdk = logship::aws::config_loader()
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_cloudwatchlogs::config::Credentials::new(
            "unused", "unused", None, None, "static",
        ))
        .load()
        .await;
    let client = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    let reporter = Reporter::new(
        config,
        QueryRunner::new(client.clone()),
        Writer::new(client, WriterOptions::default()),
    );
    let specs = reporter.specs(&event, 0).unwrap();
    assert_eq!(specs[0].name, params["ReportName"]);
    assert_eq!(specs[0].target.log_group, params["ReportLogGroup"]);
}
