#!/usr/bin/env python3
"""Print every stream and event of a log group in the local emulator (used by `make demo`).

usage: show_logs.py --endpoint URL --log-group-prefix PREFIX
"""
import argparse

import boto3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--log-group-prefix", required=True)
    args = ap.parse_args()
    logs = boto3.client("logs", endpoint_url=args.endpoint)
    groups = logs.describe_log_groups(logGroupNamePrefix=args.log_group_prefix)["logGroups"]
    if not groups:
        print(f"(nothing landed under {args.log_group_prefix})")
        raise SystemExit(1)
    for g in groups:
        name = g["logGroupName"]
        for s in logs.describe_log_streams(logGroupName=name)["logStreams"]:
            events = logs.get_log_events(logGroupName=name, logStreamName=s["logStreamName"], startFromHead=True)["events"]
            print(f"\n== {name}  /  {s['logStreamName']}  ({len(events)} events)")
            for e in events:
                first = e["message"].rstrip("\n").split("\n")
                more = f"  (+{len(first) - 1} lines)" if len(first) > 1 else ""
                print(f"  {e['timestamp']}  {first[0][:150]}{more}")


if __name__ == "__main__":
    main()
