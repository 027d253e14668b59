//! End to end, content control: the built `subscription-receiver` under the Runtime API with
//! `REDACT`, `REDACT_RULES` and `SAMPLE_RULES`, writing through the SDK to the emulator. What
//! is read back from CloudWatch Logs, returned to Firehose, and printed by the function is
//! checked for secrets.

use std::time::Duration;

use logship_tests::payloads::{self, now_ms};
use logship_tests::{Function, Moto, read_all, unique};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(60);

/// What the messages below hold, and nothing of it may be read back, answered or logged.
const SECRETS: &[&str] = &[
    "bob@example.org",
    "amy@example.org",
    "192.0.2.44",
    "2001:db8::8a2e:370:7334",
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "2YotnFZFEjr1zCsicMWpAA",
    "4111 1111 1111 1111",
    "4111111111111111",
    "o-123456",
    "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.sig",
];

fn messages() -> Vec<String> {
    vec![
        "login bob@example.org from 192.0.2.44".into(),
        "Zoë → 2001:db8::8a2e:370:7334 ← 日本".into(),
        "key AKIAIOSFODNN7EXAMPLE aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
        "GET /api Authorization: Bearer 2YotnFZFEjr1zCsicMWpAA".into(),
        "paid with 4111 1111 1111 1111 for order o-123456".into(),
        r#"{"user":"amy@example.org","card":4111111111111111,"token":"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.sig"}"#.into(),
        "nothing to hide: version 1.2.3 at 12:34:56".into(),
    ]
}

fn expected() -> Vec<String> {
    vec![
        "login [REDACTED:email] from [REDACTED:ipv4]".into(),
        "Zoë → [REDACTED:ipv6] ← 日本".into(),
        "key [REDACTED:aws-access-key] aws_secret_access_key=[REDACTED:aws-secret]".into(),
        "GET /api Authorization: Bearer [REDACTED:bearer]".into(),
        "paid with [REDACTED:card] for order o-XXXXXX".into(),
        r#"{"user":"[REDACTED:email]","card":"[REDACTED:card]","token":"[REDACTED:jwt]"}"#.into(),
        "nothing to hide: version 1.2.3 at 12:34:56".into(),
    ]
}

const RULES: &str = r#"[{"name":"order-id","pattern":"o-[0-9]{6}","replacement":"o-XXXXXX"}]"#;

/// The document's JSON text with every `@` written as its escape `\u0040`, as a producer that
/// escapes more than it must would write it: the address is the same once stored.
fn escaped_at(doc: &Value) -> String {
    payloads::b64(&payloads::gzip(
        doc.to_string().replace('@', "\\u0040").as_bytes(),
    ))
}

/// Nothing the function printed (logs, metrics) holds a secret.
fn assert_no_secret_printed(f: &Function) {
    let printed = [f.process.stdout_lines(), f.process.stderr_lines()].concat();
    for line in &printed {
        for s in SECRETS {
            assert!(!line.contains(s), "{s} printed: {line}");
        }
    }
}

fn conserved(s: &Value) -> bool {
    let n = |k: &str| s[k].as_u64().unwrap_or_else(|| panic!("{k} missing: {s}"));
    n("events_in") == n("shipped") + n("dropped") + n("rejected") + n("failed")
        && s["conserved"] == true
}

#[tokio::test]
async fn direct_and_kinesis_deliveries_are_redacted_before_they_are_written() {
    let target = unique("/central/redact");
    let f = Function::start(
        "subscription-receiver",
        &[
            ("TARGET_LOG_GROUP", &target),
            ("TARGET_LOG_STREAM", "{logStream}"),
            ("REDACT", "all"),
            ("REDACT_RULES", RULES),
        ],
    )
    .await;
    let now = now_ms();
    let events: Vec<(i64, String)> = messages()
        .into_iter()
        .enumerate()
        .map(|(i, m)| (now + i as i64, m))
        .collect();
    let want: Vec<(i64, String)> = expected()
        .into_iter()
        .enumerate()
        .map(|(i, m)| (now + i as i64, m))
        .collect();

    // Direct, with `@` escaped in the document.
    let doc = payloads::document("/aws/lambda/app", "direct", &events);
    let direct = json!({"awslogs": {"data": escaped_at(&doc)}});
    assert_eq!(f.api.invoke(direct, TIMEOUT).await.response(), Value::Null);
    let client = Moto::shared().client().await;
    assert_eq!(read_all(&client, &target, "direct").await, want);

    // Kinesis, two records.
    let a = payloads::document("/aws/lambda/app", "kinesis-a", &events[..3]);
    let b = payloads::document("/aws/lambda/app", "kinesis-b", &events[3..]);
    let kinesis = payloads::kinesis(&[payloads::encode(&a), escaped_at(&b)]);
    assert_eq!(
        f.api.invoke(kinesis, TIMEOUT).await.response(),
        json!({"batchItemFailures": []})
    );
    assert_eq!(read_all(&client, &target, "kinesis-a").await, want[..3]);
    assert_eq!(read_all(&client, &target, "kinesis-b").await, want[3..]);

    let s = f.summaries();
    assert_eq!(s.len(), 2);
    assert!(s.iter().all(conserved), "{s:#?}");
    assert_eq!(s[0]["redacted_events"], 6);
    assert_eq!(
        s[0]["redactions"],
        "aws-access-key=1,aws-secret=1,bearer=1,card=2,email=2,ipv4=1,ipv6=1,jwt=1,order-id=1"
    );
    // One EMF record per rule, with the rule as a dimension.
    let emf: Vec<Value> = f
        .process
        .json_lines()
        .into_iter()
        .filter(|l| l.get("Rule").is_some())
        .collect();
    assert!(
        emf.iter()
            .any(|l| l["Rule"] == "card" && l["Redactions"].as_f64() == Some(2.0)),
        "{emf:#?}"
    );
    assert_no_secret_printed(&f);
    Moto::shared().assert_no_violations(&target).await;
}

#[tokio::test]
async fn envelopes_and_firehose_lines_are_redacted_and_stay_json() {
    let target = unique("/central/redact-envelope");
    let f = Function::start(
        "subscription-receiver",
        &[
            ("TARGET_LOG_GROUP", &target),
            ("TARGET_LOG_STREAM", "s"),
            ("MESSAGE_FORMAT", "envelope"),
            ("REDACT", "all"),
            ("REDACT_RULES", RULES),
        ],
    )
    .await;
    let now = now_ms();
    let events: Vec<(i64, String)> = messages()
        .into_iter()
        .enumerate()
        .map(|(i, m)| (now + i as i64, m))
        .collect();
    let doc = payloads::document("/aws/lambda/app", "x", &events);
    assert_eq!(
        f.api
            .invoke(json!({"awslogs": {"data": escaped_at(&doc)}}), TIMEOUT)
            .await
            .response(),
        Value::Null
    );
    let got = read_all(&Moto::shared().client().await, &target, "s").await;
    let messages: Vec<Value> = got
        .iter()
        .map(|(_, m)| serde_json::from_str::<Value>(m).unwrap()["message"].clone())
        .collect();
    let mut want: Vec<Value> = expected().into_iter().map(Value::String).collect();
    // The JSON message is embedded as an object, redacted string by string.
    want[5] = serde_json::from_str(want[5].as_str().unwrap()).unwrap();
    assert_eq!(messages, want);

    // Firehose: the NDJSON returned holds the same lines, the message always a string there.
    let fh = payloads::firehose(&[escaped_at(&doc)]);
    let out = f.api.invoke(fh, TIMEOUT).await.response();
    let record = &out["records"][0];
    assert_eq!(record["result"], "Ok");
    let ndjson = String::from_utf8(payloads::unb64(record["data"].as_str().unwrap())).unwrap();
    let lines: Vec<Value> = ndjson
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["message"].clone())
        .collect();
    assert_eq!(
        lines,
        expected()
            .into_iter()
            .map(Value::String)
            .collect::<Vec<_>>()
    );
    assert_no_secret_printed(&f);
    let s = f.summaries();
    assert!(s.iter().all(conserved), "{s:#?}");
    assert_eq!(s[1]["redacted_events"], 6);
}

#[tokio::test]
async fn sampling_keeps_the_same_events_in_two_processes_and_counts_the_rest() {
    let now = now_ms();
    let events: Vec<(i64, String)> = (0..400)
        .map(|i| {
            let m = match i % 4 {
                0 => "DEBUG cache hit",
                1 => "GET /health 200",
                _ => "INFO order placed",
            };
            (now + i, m.to_string())
        })
        .collect();
    let doc = payloads::document("/aws/lambda/app", "sampled", &events);
    let rules = r#"[{"match":"DEBUG","keep":0.5},{"match":"GET /health","keep":0}]"#;
    let mut kept = Vec::new();
    for _ in 0..2 {
        let target = unique("/central/sampled");
        let f = Function::start(
            "subscription-receiver",
            &[
                ("TARGET_LOG_GROUP", &target),
                ("TARGET_LOG_STREAM", "s"),
                ("SAMPLE_RULES", rules),
            ],
        )
        .await;
        assert_eq!(
            f.api
                .invoke(payloads::direct(&doc), TIMEOUT)
                .await
                .response(),
            Value::Null
        );
        let got = read_all(&Moto::shared().client().await, &target, "s").await;
        let s = &f.summaries()[0];
        assert!(conserved(s), "{s}");
        let debug = got.iter().filter(|(_, m)| m.starts_with("DEBUG")).count() as u64;
        assert_eq!(
            got.iter().filter(|(_, m)| m.starts_with("INFO")).count(),
            200
        );
        assert!(!got.iter().any(|(_, m)| m.starts_with("GET /health")));
        assert_eq!(s["dropped_sampled"].as_u64().unwrap(), 100 + (100 - debug));
        // Binomial(100, 0.5): within 5 standard deviations of 50.
        assert!((debug as f64 - 50.0).abs() < 25.0, "{debug}");
        kept.push(got);
    }
    assert_eq!(kept[0], kept[1], "another process keeps the same events");
}

#[tokio::test]
async fn a_replacement_past_one_mb_is_split_like_any_oversize_event() {
    let target = unique("/central/redact-split");
    let f = Function::start(
        "subscription-receiver",
        &[
            ("TARGET_LOG_GROUP", &target),
            ("TARGET_LOG_STREAM", "s"),
            (
                "REDACT_RULES",
                r#"[{"name":"id","pattern":"o-[0-9]{6}","replacement":"[an order id, withheld]"}]"#,
            ),
        ],
    )
    .await;
    // 1,000,000 bytes, within the 1 MB limit; 22,222 ids of 8 bytes become 23 bytes each.
    let message = "o-123456 ".repeat(111_111) + "x";
    assert_eq!(message.len(), 1_000_000);
    let now = now_ms();
    let doc = payloads::document("/aws/lambda/app", "big", &[(now, message.clone())]);
    assert_eq!(
        f.api
            .invoke(payloads::direct(&doc), TIMEOUT)
            .await
            .response(),
        Value::Null
    );
    let got = read_all(&Moto::shared().client().await, &target, "s").await;
    assert!(got.len() >= 2, "split into {} events", got.len());
    // The parts carry the writer's `[part k/n] ` prefix.
    let whole: String = got
        .iter()
        .enumerate()
        .map(|(k, (_, m))| {
            let prefix = format!("[part {}/{}] ", k + 1, got.len());
            m.strip_prefix(&prefix)
                .unwrap_or_else(|| panic!("part {k} has its prefix"))
        })
        .collect();
    let want = message.replace("o-123456", "[an order id, withheld]");
    assert!(whole.len() > 2 * 1_048_576, "{}", whole.len());
    assert!(
        whole == want,
        "the parts are the redacted message ({} vs {} bytes)",
        whole.len(),
        want.len()
    );
    let s = &f.summaries()[0];
    assert!(conserved(s), "{s}");
    assert_eq!(s["split"], 1);
    Moto::shared().assert_no_violations(&target).await;
}

#[tokio::test]
async fn a_bad_rule_stops_the_function_at_init_naming_it() {
    for (var, value, want) in [
        (
            "REDACT",
            "email,phone",
            "REDACT: unknown detector \"phone\"",
        ),
        (
            "REDACT_RULES",
            r#"[{"name":"a","pattern":"("}]"#,
            "REDACT_RULES: rule 1 (\"a\"): not a valid regular expression",
        ),
        (
            "SAMPLE_RULES",
            r#"[{"match":"x","keep":1.5}]"#,
            "SAMPLE_RULES: rule 1 (\"x\"): keep must be from 0 to 1",
        ),
    ] {
        let f = Function::start(
            "subscription-receiver",
            &[("TARGET_LOG_GROUP", "/central/x"), (var, value)],
        )
        .await;
        let init = f.failed_init(TIMEOUT).await;
        assert_eq!(init["errorType"], "InvalidConfiguration", "{init}");
        let message = init["errorMessage"].as_str().unwrap();
        assert!(message.contains(want), "{message}");
    }
}

/// The Content control sample (`events/direct-secrets.json`), as the README and `make demo`
/// show it: with `REDACT=all` and the README's custom rule, every secret in it is replaced and
/// the rest of each line is as it was.
#[tokio::test]
async fn the_secrets_sample_lands_redacted() {
    let target = unique("/central/secrets-sample");
    let f = Function::start(
        "subscription-receiver",
        &[
            ("TARGET_LOG_GROUP", &target),
            ("TARGET_LOG_STREAM", "s"),
            ("REDACT", "all"),
            ("REDACT_RULES", RULES),
        ],
    )
    .await;
    let sample = payloads::restamp(payloads::sample("direct-secrets.json"), now_ms() - 60_000);
    let doc = payloads::documents(&sample).remove(0);
    assert_eq!(f.api.invoke(sample, TIMEOUT).await.response(), Value::Null);
    let got = read_all(&Moto::shared().client().await, &target, "s").await;
    assert_eq!(got.len(), doc["logEvents"].as_array().unwrap().len());
    let text = got
        .iter()
        .map(|(_, m)| m.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    for secret in [
        "zoe.martin@example.com",
        "203.0.113.9",
        "4242 4242 4242 4242",
        "2001:db8:85a3::8a2e:370:7334",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "o-482913",
    ] {
        assert!(!text.contains(secret), "{secret} landed");
    }
    for kept in [
        "version 1.2.3, 12:00:01",
        "aws_secret_access_key=[REDACTED:aws-secret]",
        "o-XXXXXX",
    ] {
        assert!(text.contains(kept), "{kept} is missing from {text}");
    }
    // The Go library's JSON stays JSON, its fields in place.
    let go: Value = serde_json::from_str(&got[2].1).unwrap();
    assert_eq!(go["msg"], "new account <[REDACTED:email]>");
    assert_eq!(go["card"], "[REDACTED:card]");
    assert_eq!(go["plan"], "pro");
    assert_eq!(f.summaries()[0]["redacted_events"], 5);
    assert_no_secret_printed(&f);
}
