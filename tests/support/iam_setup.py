"""Principals for the cross-account tests, made in a moto server that checks signatures and IAM.

moto started with `INITIAL_NO_AUTH_ACTION_COUNT=<n>` lets its first n actions through without
checking them, then checks every request's SigV4 signature against the caller's access key and
evaluates the caller's IAM policies. This script spends exactly `ACTIONS` of those first actions
(the test starts moto with that n) making:

* `function`: the function's own identity, a user allowed only `sts:AssumeRole` on the writer
  role (as the function's execution role would be in the source account);
* `reporter`: the insights-reporter's own identity: Logs Insights queries, and `sts:AssumeRole`
  on the writer role, but no writes;
* `writer`: the central writer role, allowed `logs:*`: what `TARGET_ROLE_ARN` names;
* `forbidden`: a role the function may not assume;
* `admin`: a user allowed everything, for the test's own setup and reads.

Usage: python iam_setup.py ENDPOINT  -> one JSON line:
{"function": {"key", "secret"}, "reporter": {...}, "admin": {...}, "writer": ARN, "forbidden": ARN}
"""

from __future__ import annotations

import json
import sys

import boto3

# Every IAM call below, counted: the test starts moto with INITIAL_NO_AUTH_ACTION_COUNT = ACTIONS.
ACTIONS = 13

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
)


def policy(action: str | list[str], resource: str, *more: tuple[str | list[str], str]) -> str:
    statements = [{"Effect": "Allow", "Action": a, "Resource": r} for a, r in [(action, resource), *more]]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def main(endpoint: str) -> None:
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="setup",
        aws_secret_access_key="setup",
    )
    calls = 0

    def call(method: str, **kwargs: object) -> dict:
        nonlocal calls
        calls += 1
        return getattr(iam, method)(**kwargs)

    writer = call("create_role", RoleName="logship-central-writer", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    call("put_role_policy", RoleName="logship-central-writer", PolicyName="logs", PolicyDocument=policy("logs:*", "*"))
    forbidden = call("create_role", RoleName="logship-forbidden", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    call("put_role_policy", RoleName="logship-forbidden", PolicyName="logs", PolicyDocument=policy("logs:*", "*"))

    call("create_user", UserName="logship-function")
    call("put_user_policy", UserName="logship-function", PolicyName="assume",
         PolicyDocument=policy("sts:AssumeRole", writer))
    function = call("create_access_key", UserName="logship-function")["AccessKey"]

    call("create_user", UserName="logship-reporter")
    queries = ["logs:StartQuery", "logs:GetQueryResults", "logs:StopQuery", "logs:DescribeQueryDefinitions"]
    call("put_user_policy", UserName="logship-reporter", PolicyName="query-then-assume",
         PolicyDocument=policy(queries, "*", ("sts:AssumeRole", writer)))
    reporter = call("create_access_key", UserName="logship-reporter")["AccessKey"]

    call("create_user", UserName="logship-admin")
    call("put_user_policy", UserName="logship-admin", PolicyName="all", PolicyDocument=policy("*", "*"))
    admin = call("create_access_key", UserName="logship-admin")["AccessKey"]

    assert calls == ACTIONS, f"made {calls} IAM calls; ACTIONS says {ACTIONS}"
    print(
        json.dumps(
            {
                "function": {"key": function["AccessKeyId"], "secret": function["SecretAccessKey"]},
                "reporter": {"key": reporter["AccessKeyId"], "secret": reporter["SecretAccessKey"]},
                "admin": {"key": admin["AccessKeyId"], "secret": admin["SecretAccessKey"]},
                "writer": writer,
                "forbidden": forbidden,
                "actions": ACTIONS,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
