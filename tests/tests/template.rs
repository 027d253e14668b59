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

/// The content-control parameters reach the receiver, default to nothing, and the `Redact`
/// description names exactly the detectors the code has.
#[test]
fn content_control_parameters_are_wired_to_the_receiver() {
    let t = template();
    let env = environment(&t, "SubscriptionReceiver");
    let resources =
        &t["Resources"]["SubscriptionReceiver"]["Properties"]["Environment"]["Variables"];
    for (var, param) in [
        ("REDACT", "Redact"),
        ("REDACT_RULES", "RedactRules"),
        ("SAMPLE_RULES", "SampleRules"),
    ] {
        assert_eq!(
            resources[var],
            serde_yaml::from_str::<Value>(&format!("!Ref {param}")).unwrap(),
            "{var}"
        );
        assert_eq!(s(&t["Parameters"][param]["Default"]), "", "{param}");
        assert!(env.contains_key(var), "{var}");
    }
    let described = s(&t["Parameters"]["Redact"]["Description"]);
    let named = described
        .split(['"', ':', ',', '(', ';', ' '])
        .filter(|w| logship::redact::detectors::by_name(w).is_some())
        .collect::<BTreeSet<_>>();
    let all = logship::redact::DETECTORS
        .iter()
        .map(|d| d.name)
        .collect::<BTreeSet<_>>();
    assert_eq!(
        named, all,
        "the Redact parameter's description names every detector"
    );
    // The examples in the descriptions are accepted by the code.
    let example = |param: &str| {
        let d = s(&t["Parameters"][param]["Description"]);
        let start = d.find("[{").unwrap();
        let end = d[start..].find("}]").unwrap() + start;
        d[start..end + 2].to_string()
    };
    logship::redact::Redactor::from_config(Some("all"), Some(&example("RedactRules")))
        .unwrap()
        .unwrap();
    logship::sample::Sampler::from_config(Some(&example("SampleRules")))
        .unwrap()
        .unwrap();
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
                    // A conditional statement, `!If [Cond, statement, !Ref AWS::NoValue]`,
                    // counts as its statement.
                    out.extend(st.iter().map(|x| match x {
                        Value::Tagged(tg) if tg.tag == "!If" => {
                            (owner.to_string(), tg.value[1].clone())
                        }
                        x => (owner.to_string(), x.clone()),
                    }));
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
                "logs:DescribeQueryDefinitions",
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
                !wildcard
                    && (resource.contains("ReportLogGroupNames")
                        || resource.contains("SavedQueryLogGroupNames")),
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
    // Receiver: one subscription filter per source group, from the parameter.
    subscription_filters_loop_over_the_sources(&t);
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

/// `Fn::ForEach` over `SourceLogGroupNames` makes one subscription filter per source group, and
/// SAM CLI is told to expand it: without `language_extensions` it stops at the loop ("'list'
/// object has no attribute 'get'"), while cfn-lint and this test's YAML reading would pass.
fn subscription_filters_loop_over_the_sources(t: &Value) {
    // The loop needs AWS::LanguageExtensions, and it must come before the SAM transform.
    assert_eq!(
        text(&t["Transform"]).trim(),
        "- AWS::LanguageExtensions\n- AWS::Serverless-2016-10-31"
    );
    assert_eq!(
        s(&t["Parameters"]["SourceLogGroupNames"]["Type"]),
        "CommaDelimitedList"
    );
    let each = t["Resources"]["Fn::ForEach::Sources"]
        .as_sequence()
        .expect("Fn::ForEach::Sources: [identifier, collection, fragment]");
    assert_eq!(each.len(), 3);
    let id = s(&each[0]);
    let Value::Tagged(collection) = &each[1] else {
        panic!("the loop's collection is a !Ref: {:?}", each[1])
    };
    assert!(collection.tag == "!Ref" && s(&collection.value) == "SourceLogGroupNames");
    let fragment = each[2].as_mapping().unwrap();
    assert_eq!(fragment.len(), 1, "one resource per source group");
    let (key, filter) = fragment.iter().next().unwrap();
    assert!(
        s(key).contains(&format!("&{{{id}}}")),
        "the logical id is made from the group's name: {key:?}"
    );
    assert_eq!(s(&filter["Type"]), "AWS::Logs::SubscriptionFilter");
    let p = &filter["Properties"];
    assert_eq!(text(&p["LogGroupName"]).trim(), format!("!Ref {id}"));
    let destination = text(&p["DestinationArn"]);
    assert!(
        destination.contains("ViaKinesis")
            && destination.contains("SubscriptionStream.Arn")
            && destination.contains("SubscriptionReceiver.Arn"),
        "the DeliveryMode switch: {destination}"
    );
    // No other subscription filter: each source group is shipped once.
    for (name, r) in t["Resources"].as_mapping().unwrap() {
        assert_ne!(
            r["Type"].as_str(),
            Some("AWS::Logs::SubscriptionFilter"),
            "{name:?} is a subscription filter outside the loop"
        );
    }
    // samconfig.toml opts every SAM CLI command in to expanding the loop locally.
    let samconfig = std::fs::read_to_string(workspace_root().join("samconfig.toml")).unwrap();
    let mut section = "";
    let mut enabled = false;
    for line in samconfig.lines() {
        let line = line.split('#').next().unwrap().trim();
        if line.starts_with('[') {
            section = line;
        } else if section == "[default.global.parameters]" {
            enabled |= line.replace(' ', "") == "language_extensions=true";
        }
    }
    assert!(
        enabled,
        "samconfig.toml: [default.global.parameters] language_extensions = true"
    );
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

    // The saved query's schedule, when SavedQueryName is set: a spec naming the saved query,
    // its window from SavedQueryWindow, and only under HasSavedQuery (with its role).
    let r = &t["Resources"];
    for name in ["SavedQueryRuns", "SavedQueryScheduleRole"] {
        assert_eq!(s(&r[name]["Condition"]), "HasSavedQuery", "{name}");
    }
    assert!(text(&t["Conditions"]["HasSavedQuery"]).contains("SavedQueryName"));
    let target = &r["SavedQueryRuns"]["Properties"]["Target"];
    assert!(text(&target["Arn"]).contains("InsightsReporter.Arn"));
    let Value::Tagged(sub) = &target["Input"] else {
        panic!("Input is a !Sub")
    };
    let mut input = s(&sub.value).to_string();
    let mut with_name = params.clone();
    with_name.insert("SavedQueryName".into(), "errors-by-service".into());
    for (k, v) in &with_name {
        input = input.replace(&format!("${{{k}}}"), v);
    }
    let input = input.replace("<aws.scheduler.scheduled-time>", "2026-11-22T01:05:00Z");
    let event: serde_json::Value = serde_json::from_str(&input)
        .unwrap_or_else(|e| panic!("the saved query's input is not JSON ({e}): {input}"));
    let spec = &reporter.specs(&event, 0).unwrap()[0];
    assert_eq!(
        spec.source,
        logship::insights::spec::Source::Saved {
            name: "errors-by-service".into(),
            parameters: vec![]
        }
    );
    assert_eq!(
        spec.window,
        logship::insights::spec::parse_duration("w", &params["SavedQueryWindow"]).unwrap()
    );
    assert_eq!(spec.target.log_group, params["ReportLogGroup"]);
}

/// The metric names each function's code puts in its EMF record (namespace `ns`), read from the
/// code: the calls the binaries make, on empty counters.
fn emitted(ns: &str) -> BTreeMap<&'static str, BTreeSet<String>> {
    use logship::emf::MetricRecord;
    let names = |r: MetricRecord| {
        assert_eq!(r.namespace(), ns);
        r.metric_names().map(String::from).collect::<BTreeSet<_>>()
    };
    let record = || MetricRecord::new(ns).dimension("FunctionName", "f");
    let write = logship::writer::WriteReport::default();
    BTreeMap::from([
        (
            "SubscriptionReceiver",
            names(logship::receiver::Summary::default().metrics(record())),
        ),
        ("LogWriter", names(write.metrics(record()))),
        ("InsightsReporter", names(write.metrics(record()))),
    ])
}

/// `!Ref X` / `!GetAtt X.Attr` as `X`; a plain string as itself.
fn referenced(v: &Value) -> String {
    match v {
        Value::Tagged(t) if t.tag == "!Ref" || t.tag == "!GetAtt" => {
            s(&t.value).split('.').next().unwrap().to_string()
        }
        Value::String(x) => x.clone(),
        other => panic!("expected !Ref, !GetAtt or a string, got {other:?}"),
    }
}

/// Lambda's and SQS's own metrics that alarms and the dashboard may use.
const SERVICE_METRICS: [(&str, &str); 6] = [
    ("AWS/Lambda", "Errors"),
    ("AWS/Lambda", "Throttles"),
    ("AWS/Lambda", "Duration"),
    ("AWS/Lambda", "IteratorAge"),
    ("AWS/Lambda", "ConcurrentExecutions"),
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
];

/// Checks one metric of an alarm or the dashboard: logship's namespace names a metric the
/// named function's code emits; any other namespace, a known service metric on a resource of
/// the right type.
fn check_metric(t: &Value, what: &str, namespace: &str, metric: &str, dimension: (&str, &str)) {
    let params = defaults(t);
    let ns = &params["MetricsNamespace"];
    let (dim, resource) = dimension;
    let kind = s(&t["Resources"][resource]["Type"]).to_string();
    if namespace == ns {
        assert_eq!(dim, "FunctionName", "{what}");
        let by_function = emitted(ns);
        let names = by_function
            .get(resource)
            .unwrap_or_else(|| panic!("{what}: {resource} is not a function"));
        assert!(
            names.contains(metric),
            "{what}: {resource} never emits {ns}/{metric} (it emits {names:?})"
        );
    } else {
        assert!(
            SERVICE_METRICS.contains(&(namespace, metric)),
            "{what}: {namespace}/{metric} is not a metric this template knows"
        );
        let want = if namespace == "AWS/SQS" {
            ("QueueName", "AWS::SQS::Queue")
        } else {
            ("FunctionName", "AWS::Serverless::Function")
        };
        assert_eq!((dim, kind.as_str()), want, "{what}");
    }
}

fn resources_of_type<'a>(t: &'a Value, kind: &str) -> Vec<(&'a str, &'a Value)> {
    t["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(kind))
        .map(|(k, r)| (s(k), r))
        .collect()
}

#[test]
fn alarms_watch_only_metrics_the_code_and_services_emit() {
    let t = template();
    // Every function's environment sends its metrics to the namespace the alarms watch.
    for function in ["SubscriptionReceiver", "LogWriter", "InsightsReporter"] {
        let vars = &t["Resources"][function]["Properties"]["Environment"]["Variables"];
        assert_eq!(referenced(&vars["METRICS_NAMESPACE"]), "MetricsNamespace");
    }
    let alarms = resources_of_type(&t, "AWS::CloudWatch::Alarm");
    let mut watched = BTreeSet::new();
    for (name, alarm) in &alarms {
        let p = &alarm["Properties"];
        let namespace = match &p["Namespace"] {
            Value::String(n) => n.clone(),
            v => defaults(&t)[&referenced(v)].clone(),
        };
        let metric = s(&p["MetricName"]);
        let dims = p["Dimensions"].as_sequence().unwrap();
        assert_eq!(dims.len(), 1, "{name}");
        let resource = referenced(&dims[0]["Value"]);
        check_metric(
            &t,
            name,
            &namespace,
            metric,
            (s(&dims[0]["Name"]), &resource),
        );
        watched.insert((metric.to_string(), resource));
        // Notifications go to AlarmTopicArn when it is set, and nowhere otherwise.
        for actions in ["AlarmActions", "OKActions"] {
            assert!(
                text(&p[actions]).contains("HasAlarmTopic")
                    && text(&p[actions]).contains("AlarmTopicArn"),
                "{name}: {actions}"
            );
        }
        assert_eq!(s(&p["TreatMissingData"]), "notBreaching", "{name}");
    }
    for function in ["SubscriptionReceiver", "LogWriter", "InsightsReporter"] {
        for metric in ["Errors", "Throttles", "EventsFailed", "EventsRejected"] {
            assert!(
                watched.contains(&(metric.to_string(), function.to_string())),
                "no {metric} alarm on {function}"
            );
        }
    }
    // Every queue that holds failures has an alarm; the log-writer's input queue has none.
    for (queue, _) in resources_of_type(&t, "AWS::SQS::Queue") {
        let alarmed = watched.contains(&(
            "ApproximateNumberOfMessagesVisible".to_string(),
            queue.to_string(),
        ));
        assert_eq!(alarmed, queue != "WriterQueue", "{queue}");
    }
    let iterator_age = alarms
        .iter()
        .find(|(_, a)| a["Properties"]["MetricName"].as_str() == Some("IteratorAge"))
        .expect("an IteratorAge alarm");
    assert_eq!(s(&iterator_age.1["Condition"]), "ViaKinesis");
}

#[test]
fn the_dashboard_shows_only_metrics_the_code_and_services_emit() {
    let t = template();
    let Value::Tagged(body) = &t["Resources"]["Dashboard"]["Properties"]["DashboardBody"] else {
        panic!("DashboardBody is a !Sub")
    };
    assert_eq!(body.tag, "!Sub");
    // `${Param}` as the parameter's default, `${Resource}` / `${Resource.Attr}` as its name.
    let mut json = s(&body.value).to_string();
    for (k, v) in defaults(&t) {
        json = json.replace(&format!("${{{k}}}"), &v);
    }
    json = json.replace("${AWS::Region}", "us-east-1");
    let json = resource_refs(&json);
    let dashboard: serde_json::Value = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("the dashboard body is not JSON ({e}): {json}"));
    let mut shown = BTreeSet::new();
    for widget in dashboard["widgets"].as_array().unwrap() {
        let title = widget["properties"]["title"].as_str().unwrap();
        for m in widget["properties"]["metrics"].as_array().unwrap() {
            let m = m.as_array().unwrap();
            let (namespace, metric) = (m[0].as_str().unwrap(), m[1].as_str().unwrap());
            let (dim, resource) = (m[2].as_str().unwrap(), m[3].as_str().unwrap());
            check_metric(&t, title, namespace, metric, (dim, resource));
            shown.insert(metric.to_string());
        }
    }
    // What the issue asks to see: events in, shipped, dropped by reason, rejected, failed,
    // requests, throttles, bytes, duration.
    for metric in [
        "EventsIn",
        "EventsShipped",
        "EventsDroppedControlMessage",
        "EventsDroppedFiltered",
        "EventsDroppedLoopGuard",
        "EventsDroppedEmpty",
        "EventsDroppedSampled",
        "EventsRedacted",
        "EventsRejected",
        "EventsFailed",
        "PutLogEventsRequests",
        "Throttles",
        "BytesShipped",
        "BytesWritten",
        "Duration",
    ] {
        assert!(shown.contains(metric), "the dashboard shows {metric}");
    }
}

/// `${Name}` and `${Name.Attr}` replaced by `Name`: the resource a reference points at.
fn resource_refs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("a closed ${") + start;
        let name = &rest[start + 2..end];
        out.push_str(name.split('.').next().unwrap());
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn failed_deliveries_can_be_replayed_and_are_off_by_default() {
    let t = template();
    let r = &t["Resources"];
    // The receiver's on-failure destination is the queue its replay source reads.
    let destination = referenced(
        &r["SubscriptionReceiver"]["Properties"]["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
            ["Destination"],
    );
    let replay = &r["SubscriptionReceiver"]["Properties"]["Events"]["Replay"];
    assert_eq!(s(&replay["Type"]), "SQS");
    assert_eq!(referenced(&replay["Properties"]["Queue"]), destination);
    assert_eq!(
        text(&replay["Properties"]["FunctionResponseTypes"]).trim(),
        "- ReportBatchItemFailures"
    );
    let enabled = text(&replay["Properties"]["Enabled"]);
    assert!(enabled.contains("ReplayOn"), "{enabled}");
    assert_eq!(defaults(&t)["ReplayFailedDeliveries"], "false");
    assert!(text(&t["Conditions"]["ReplayOn"]).contains("ReplayFailedDeliveries"));
    // Lambda refuses an SQS source whose visibility timeout is below the function's timeout.
    let queue = &r[destination.as_str()]["Properties"];
    let timeout = r["SubscriptionReceiver"]["Properties"]["Timeout"]
        .as_u64()
        .unwrap();
    assert!(queue["VisibilityTimeout"].as_u64().unwrap() >= 6 * timeout);
    // What still fails is parked, not replayed forever.
    let parked = referenced(&queue["RedrivePolicy"]["deadLetterTargetArn"]);
    assert_eq!(s(&r[parked.as_str()]["Type"]), "AWS::SQS::Queue");
    assert!(queue["RedrivePolicy"]["maxReceiveCount"].as_u64().is_some());
}

#[test]
fn asynchronously_invoked_functions_keep_their_failures() {
    // The receiver (CloudWatch Logs) and the reporter (EventBridge Scheduler) are invoked
    // asynchronously: what fails after Lambda's retries is kept in a queue, not discarded.
    let t = template();
    for function in ["SubscriptionReceiver", "InsightsReporter"] {
        let invoke = &t["Resources"][function]["Properties"]["EventInvokeConfig"];
        assert!(invoke["MaximumRetryAttempts"].as_u64().unwrap() <= 2);
        let on_failure = &invoke["DestinationConfig"]["OnFailure"];
        assert_eq!(s(&on_failure["Type"]), "SQS", "{function}");
        let queue = referenced(&on_failure["Destination"]);
        assert_eq!(
            s(&t["Resources"][queue.as_str()]["Type"]),
            "AWS::SQS::Queue"
        );
    }
}

/// Central logging: the central stack's destination is the receiver's stream, only on the
/// Kinesis path and only when someone may subscribe; source accounts subscribe their groups to
/// it with templates/source-account.yaml.
#[test]
fn the_central_destination_and_the_source_account_template_are_wired() {
    let t = template();
    let r = &t["Resources"];
    // The destination and its role exist only under CentralDestinationOn, which needs the
    // Kinesis path (the destination's target is the stream the receiver reads) and accounts or
    // an organization.
    let on = text(&t["Conditions"]["CentralDestinationOn"]);
    for needed in ["ViaKinesis", "HasSourceAccounts", "HasSourceOrg"] {
        assert!(on.contains(needed), "{on}");
    }
    let d = &r["CentralDestination"];
    assert_eq!(s(&d["Type"]), "AWS::Logs::Destination");
    assert_eq!(s(&d["Condition"]), "CentralDestinationOn");
    assert_eq!(
        s(&r["CentralDestinationRole"]["Condition"]),
        "CentralDestinationOn"
    );
    let p = &d["Properties"];
    assert!(text(&p["TargetArn"]).contains("SubscriptionStream.Arn"));
    assert!(text(&p["RoleArn"]).contains("CentralDestinationRole.Arn"));
    assert_eq!(
        text(&p["DestinationName"]).trim(),
        "!Ref CentralDestinationName"
    );
    // The access policy: the accounts, or the organization; it names this destination.
    let policy = text(&p["DestinationPolicy"]);
    for needed in [
        "HasSourceOrg",
        "aws:PrincipalOrgID",
        "${CentralSourceOrgId}",
        "CentralSourceAccountIds",
        "logs:PutSubscriptionFilter",
        ":destination:${CentralDestinationName}",
    ] {
        assert!(policy.contains(needed), "{needed} in {policy}");
    }
    // The role: CloudWatch Logs may assume it only for the source accounts (or the
    // organization), and it may only put records on the stream.
    let role = text(&r["CentralDestinationRole"]["Properties"]);
    for needed in [
        "logs.amazonaws.com",
        "aws:SourceOrgID",
        "aws:SourceArn",
        "CentralSourceAccountIds",
        "kinesis:PutRecord",
        "SubscriptionStream.Arn",
    ] {
        assert!(role.contains(needed), "{needed} in the destination role");
    }
    assert!(
        text(&t["Outputs"]["CentralDestinationArn"]["Value"]).contains("CentralDestination.Arn")
    );

    // The source account's template: one filter per group of SourceLogGroupNames, to the
    // destination given as DestinationArn, with no role (a destination has its own).
    let text_of =
        std::fs::read_to_string(workspace_root().join("templates/source-account.yaml")).unwrap();
    let src: Value = serde_yaml::from_str(&text_of).unwrap();
    assert_eq!(s(&src["Transform"]), "AWS::LanguageExtensions");
    let each = src["Resources"]["Fn::ForEach::Sources"]
        .as_sequence()
        .unwrap();
    assert_eq!(text(&each[1]).trim(), "!Ref SourceLogGroupNames");
    let (_, filter) = each[2].as_mapping().unwrap().iter().next().unwrap();
    assert_eq!(s(&filter["Type"]), "AWS::Logs::SubscriptionFilter");
    let p = &filter["Properties"];
    assert_eq!(text(&p["DestinationArn"]).trim(), "!Ref DestinationArn");
    assert_eq!(
        text(&p["LogGroupName"]).trim(),
        format!("!Ref {}", s(&each[0]))
    );
    assert!(p.get("RoleArn").is_none());
    // The central stack's destination ARN is what the source template's pattern accepts.
    let pattern =
        regex::Regex::new(s(&src["Parameters"]["DestinationArn"]["AllowedPattern"])).unwrap();
    assert!(pattern.is_match("arn:aws:logs:eu-west-1:111122223333:destination:logship-central"));
    assert!(!pattern.is_match("arn:aws:kinesis:eu-west-1:111122223333:stream/s"));

    // Another region's destination (the central account, one more source region): the same
    // access policy, in front of the central stream, with the central role.
    let other: Value = serde_yaml::from_str(
        &std::fs::read_to_string(
            workspace_root().join("templates/central-region-destination.yaml"),
        )
        .unwrap(),
    )
    .unwrap();
    let od = &other["Resources"]["CentralDestination"]["Properties"];
    assert_eq!(
        text(&od["DestinationPolicy"]),
        policy,
        "the same access policy"
    );
    assert_eq!(text(&od["TargetArn"]).trim(), "!Ref SubscriptionStreamArn");
    assert_eq!(
        text(&od["RoleArn"]).trim(),
        "!Ref CentralDestinationRoleArn"
    );
    assert!(
        text(&t["Outputs"]["CentralDestinationRoleArn"]["Value"])
            .contains("CentralDestinationRole.Arn")
    );
    assert!(
        role.contains("arn:${AWS::Partition}:logs:*:${AWS::AccountId}:*"),
        "the role takes this account's test messages from any region: {role}"
    );
}
