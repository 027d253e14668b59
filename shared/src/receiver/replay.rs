//! Replay of failed deliveries: the receiver's on-failure queue, read back as an SQS event.
//!
//! A direct delivery that still fails after Lambda's retries reaches the on-failure
//! destination (an SQS queue) as an *invocation record*: a JSON object whose `requestPayload`
//! is the original event, `{"awslogs":{"data":…}}`, beside `requestContext` (`requestId`,
//! `condition`: `RetriesExhausted` or `EventAgeExceeded`, `approximateInvokeCount`) and what
//! the function answered (`responseContext`, `responsePayload`). When an operator turns the
//! queue's event source on, the receiver gets those records back as an SQS event and ships
//! each `requestPayload` again.
//!
//! Two kinds of record in that queue carry no events, and each fails with its reason (it stays
//! in `batchItemFailures`, and the queue's redrive policy parks it after a few receives):
//! - a Kinesis event source mapping's record (`KinesisBatchInfo`): only the place of the batch
//!   in the stream; the records are read back from the stream while it retains them;
//! - an invocation record without `requestPayload`: Lambda leaves the payload out when the
//!   record would pass the destination's size limit; the events are still in the source group.
//!
//! Pure: this module only reads message bodies.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use super::DirectEvent;

/// Why one SQS message cannot be replayed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ReplayError {
    #[error("the SQS message body is not JSON: {0}")]
    NotJson(String),
    #[error(
        "the SQS message body is not a Lambda on-failure invocation record (it has no requestPayload, requestContext or KinesisBatchInfo)"
    )]
    NotAnInvocationRecord,
    #[error(
        "the on-failure record of a Kinesis batch carries no events, only their place in the stream: {0}; read those records from the stream while it retains them"
    )]
    KinesisBatch(String),
    #[error(
        "the on-failure record (request {request_id}) has no requestPayload: Lambda leaves it out when the record would pass the destination's size limit; the events are still in the source log group"
    )]
    PayloadLeftOut { request_id: String },
    #[error(
        "the requestPayload of the on-failure record (request {request_id}) is not a CloudWatch Logs subscription delivery {{\"awslogs\":{{\"data\":…}}}}: {message}"
    )]
    NotADelivery { request_id: String, message: String },
}

/// A Lambda on-failure record: the fields replay reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InvocationRecord<'a> {
    #[serde(borrow)]
    request_payload: Option<&'a RawValue>,
    #[serde(borrow)]
    request_context: Option<RequestContext<'a>>,
    #[serde(rename = "KinesisBatchInfo", borrow)]
    kinesis_batch_info: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestContext<'a> {
    #[serde(borrow, default)]
    request_id: Option<Cow<'a, str>>,
}

/// The subscription payload (`awslogs.data`, base64 of gzip) an on-failure record's body
/// carries, or why there is none to replay.
pub fn payload_of(body: &str) -> Result<Cow<'_, str>, ReplayError> {
    let record: InvocationRecord<'_> =
        serde_json::from_str(body).map_err(|e| match serde_json::from_str::<IgnoredAny>(body) {
            Err(_) => ReplayError::NotJson(e.to_string()),
            Ok(_) => ReplayError::NotAnInvocationRecord,
        })?;
    let request_id = || {
        record
            .request_context
            .as_ref()
            .and_then(|c| c.request_id.as_deref())
            .unwrap_or("unknown")
            .to_owned()
    };
    match (record.request_payload, record.kinesis_batch_info) {
        // The original event, read as the receiver reads a direct delivery.
        (Some(payload), _) => serde_json::from_str::<DirectEvent<'_>>(payload.get())
            .map(|d| d.awslogs.data)
            .map_err(|e| ReplayError::NotADelivery {
                request_id: request_id(),
                message: e.to_string(),
            }),
        (None, Some(batch)) => Err(ReplayError::KinesisBatch(batch.get().to_owned())),
        (None, None) if record.request_context.is_some() => Err(ReplayError::PayloadLeftOut {
            request_id: request_id(),
        }),
        (None, None) => Err(ReplayError::NotAnInvocationRecord),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(payload: serde_json::Value) -> String {
        json!({
            "version": "1.0",
            "timestamp": "2026-11-30T10:00:00.000Z",
            "requestContext": {"requestId": "r-1", "functionArn": "arn:aws:lambda:eu-west-1:123456789012:function:f:$LATEST",
                               "condition": "RetriesExhausted", "approximateInvokeCount": 3},
            "requestPayload": payload,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorType": "WriteFailed", "errorMessage": "…"}
        })
        .to_string()
    }

    #[test]
    fn an_invocation_record_gives_its_payload() {
        let body = record(json!({"awslogs": {"data": "H4sI"}}));
        assert_eq!(payload_of(&body).unwrap(), "H4sI");
    }

    #[test]
    fn each_record_without_events_says_why() {
        assert!(matches!(
            payload_of("{not json"),
            Err(ReplayError::NotJson(_))
        ));
        assert_eq!(
            payload_of(r#"{"hello": 1}"#),
            Err(ReplayError::NotAnInvocationRecord)
        );
        assert_eq!(payload_of("[1]"), Err(ReplayError::NotAnInvocationRecord));
        let kinesis = json!({"requestContext": {"requestId": "r-2", "condition": "RetryAttemptsExhausted"},
            "KinesisBatchInfo": {"shardId": "shardId-000000000000", "startSequenceNumber": "1", "endSequenceNumber": "9",
                                 "batchSize": 3, "streamArn": "arn:aws:kinesis:eu-west-1:123456789012:stream/s"}});
        let err = payload_of(&kinesis.to_string()).unwrap_err();
        assert!(matches!(err, ReplayError::KinesisBatch(_)));
        assert!(err.to_string().contains("shardId-000000000000"), "{err}");
        let mut left_out: serde_json::Value = serde_json::from_str(&record(json!(null))).unwrap();
        let left_out_null = left_out.to_string();
        left_out.as_object_mut().unwrap().remove("requestPayload");
        for body in [left_out.to_string(), left_out_null] {
            assert_eq!(
                payload_of(&body),
                Err(ReplayError::PayloadLeftOut {
                    request_id: "r-1".into()
                })
            );
        }
        let err = payload_of(&record(json!({"Records": []}))).unwrap_err();
        assert!(
            matches!(&err, ReplayError::NotADelivery { request_id, .. } if request_id == "r-1"),
            "{err}"
        );
        assert!(matches!(
            payload_of(&record(json!("awslogs"))),
            Err(ReplayError::NotADelivery { .. })
        ));
    }
}
