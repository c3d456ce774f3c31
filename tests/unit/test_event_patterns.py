"""EventBridge pattern matching, against the examples of AWS's documentation.

Sources: eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html,
eb-event-patterns.html (arrays, null and empty values), and the sample patterns of
codebuild/latest/userguide/sample-build-notifications.html and
codepipeline/latest/userguide/detect-state-changes-cloudwatch-events.html.
"""

from __future__ import annotations

from typing import Any

import pytest

from runner.events.patterns import matches, problems

EC2_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "111122223333",
    "time": "2017-12-22T18:43:48Z",
    "region": "us-west-1",
    "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
    "detail": {"instance-id": "i-1234567890abcdef0", "state": "terminated"},
}
NUMBERS = {"detail": {"c-count": 5, "d-count": 3, "x-limit": 301.8, "source-ip": "10.0.0.123"}}


def _check(pattern: dict[str, Any]) -> dict[str, Any]:
    assert problems(pattern) == []
    return pattern


@pytest.mark.parametrize(
    ("pattern", "event", "expected"),
    [
        # exact values, nested detail keys, and OR within a field
        ({"source": ["aws.ec2"], "detail": {"state": ["terminated"]}}, EC2_EVENT, True),
        ({"source": ["aws.ec2"], "detail": {"state": ["running", "pending"]}}, EC2_EVENT, False),
        ({"detail-type": ["EC2 Instance State-change Notification"]}, EC2_EVENT, True),
        # prefix, suffix, equals-ignore-case, wildcard
        ({"time": [{"prefix": "2017-12-22"}]}, EC2_EVENT, True),
        ({"time": [{"prefix": "2017-10-02"}]}, EC2_EVENT, False),
        ({"detail": {"FileName": [{"suffix": ".png"}]}}, {"detail": {"FileName": "cat.png"}}, True),
        (
            {"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}},
            {"detail": {"FileName": "A.PNG"}},
            True,
        ),
        (
            {"detail": {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}},
            {"detail": {"service": "eventbridge"}},
            True,
        ),
        (
            {"detail-type": [{"equals-ignore-case": "ec2 instance state-change notification"}]},
            EC2_EVENT,
            True,
        ),
        (
            {"detail": {"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]}},
            {"detail": {"EventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/myBus"}},
            True,
        ),
        ({"detail": {"FilePath": [{"wildcard": "*/lib/*"}]}}, {"detail": {"FilePath": "/usr/bin/x"}}, False),
        # anything-but: a value, a list, a number, a prefix, a suffix
        ({"detail": {"state": [{"anything-but": "initializing"}]}}, EC2_EVENT, True),
        ({"detail": {"state": [{"anything-but": "terminated"}]}}, EC2_EVENT, False),
        ({"detail": {"state": [{"anything-but": ["stopped", "terminated"]}]}}, EC2_EVENT, False),
        ({"detail": {"x-limit": [{"anything-but": 123}]}}, NUMBERS, True),
        ({"detail": {"state": [{"anything-but": {"prefix": "term"}}]}}, EC2_EVENT, False),
        ({"detail": {"state": [{"anything-but": {"suffix": ".png"}}]}}, EC2_EVENT, True),
        ({"detail": {"state": [{"anything-but": {"equals-ignore-case": "TERMINATED"}}]}}, EC2_EVENT, False),
        (
            {"detail": {"missing": [{"anything-but": "x"}]}},
            EC2_EVENT,
            False,
        ),  # only exists:false matches a missing field
        # numeric ranges
        (
            {
                "detail": {
                    "c-count": [{"numeric": [">", 0, "<=", 5]}],
                    "d-count": [{"numeric": ["<", 10]}],
                    "x-limit": [{"numeric": ["=", 3.018e2]}],
                }
            },
            NUMBERS,
            True,
        ),
        ({"detail": {"c-count": [{"numeric": [">", 5]}]}}, NUMBERS, False),
        ({"detail": {"state": [{"numeric": [">", 0]}]}}, EC2_EVENT, False),  # a string is not a number
        # exists
        ({"detail": {"c-count": [{"exists": False}]}}, NUMBERS, False),
        ({"detail": {"c-count": [{"exists": False}]}}, EC2_EVENT, True),
        ({"detail": {"c-count": [{"exists": True}]}}, NUMBERS, True),
        # IP addresses
        ({"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}}, NUMBERS, True),
        ({"detail": {"source-ip": [{"cidr": "10.0.1.0/24"}]}}, NUMBERS, False),
        # $or
        (
            {
                "detail": {
                    "$or": [{"c-count": [{"numeric": [">", 10]}]}, {"d-count": [{"numeric": ["<", 10]}]}]
                }
            },
            NUMBERS,
            True,
        ),
        ({"$or": [{"source": ["aws.s3"]}, {"detail": {"state": ["running"]}}]}, EC2_EVENT, False),
        # arrays in the event: any element; null and empty values
        (
            {"resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0", "other"]},
            EC2_EVENT,
            True,
        ),
        ({"detail": {"responseElements": [None]}}, {"detail": {"responseElements": None}}, True),
        ({"detail": {"responseElements": [None]}}, {"detail": {}}, False),
        ({"detail": {"eventVersion": [""]}}, {"detail": {"eventVersion": ""}}, True),
        # numbers compare as numbers, never as strings or booleans
        ({"detail": {"n": [5]}}, {"detail": {"n": 5.0}}, True),
        ({"detail": {"n": ["5"]}}, {"detail": {"n": 5}}, False),
        ({"detail": {"build-complete": [True]}}, {"detail": {"build-complete": True}}, True),
        ({"detail": {"n": [1]}}, {"detail": {"n": True}}, False),
    ],
)
def test_documented_matching(pattern: dict[str, Any], event: dict[str, Any], expected: bool) -> None:
    assert matches(_check(pattern), event) is expected


def test_codepipeline_documented_patterns_on_an_action_event() -> None:
    event = {
        "source": "aws.codepipeline",
        "detail-type": "CodePipeline Action Execution State Change",
        "detail": {
            "pipeline": "myPipeline",
            "state": "FAILED",
            "type": {"owner": "AWS", "category": "Deploy", "provider": "CodeDeploy", "version": 1},
        },
    }
    failed_deploy_or_build = {
        "source": ["aws.codepipeline"],
        "detail-type": ["CodePipeline Action Execution State Change"],
        "detail": {"state": ["FAILED"], "type": {"category": ["Deploy", "Build"]}},
    }
    approvals = {
        "source": ["aws.codepipeline"],
        "detail-type": ["CodePipeline Action Execution State Change"],
        "detail": {"state": ["FAILED"], "type": {"category": ["Approval"]}},
    }
    pipelines = {
        "source": ["aws.codepipeline"],
        "detail-type": [
            "CodePipeline Pipeline Execution State Change",
            "CodePipeline Action Execution State Change",
            "CodePipeline Stage Execution State Change",
        ],
        "detail": {"pipeline": ["myPipeline", "my2ndPipeline"]},
    }
    assert matches(_check(failed_deploy_or_build), event)
    assert not matches(_check(approvals), event)
    assert matches(_check(pipelines), event)


def test_codebuild_documented_patterns() -> None:
    state = {
        "source": ["aws.codebuild"],
        "detail-type": ["CodeBuild Build State Change"],
        "detail": {
            "build-status": ["IN_PROGRESS", "SUCCEEDED", "FAILED", "STOPPED"],
            "project-name": ["my-demo-project-1", "my-demo-project-2"],
        },
    }
    event = {
        "source": "aws.codebuild",
        "detail-type": "CodeBuild Build State Change",
        "detail": {"build-status": "FAILED", "project-name": "my-demo-project-2"},
    }
    assert matches(_check(state), event)
    assert not matches(state, {**event, "detail": {**event["detail"], "project-name": "other"}})


@pytest.mark.parametrize(
    ("pattern", "path", "message"),
    [
        ([], (), "expected a mapping of event fields to lists of values"),
        ({"source": "aws.codebuild"}, ("source",), "expected a list of values"),
        ({"source": []}, ("source",), "expected at least one value"),
        (
            {"detail": {"n": [{"numeric": [">", "five"]}]}},
            ("detail", "n", 0, "numeric"),
            "expected [OP, NUMBER]",
        ),
        (
            {"detail": {"n": [{"numeric": ["<", 1, ">", 5]}]}},
            ("detail", "n", 0, "numeric"),
            "expected a range",
        ),
        ({"detail": {"n": [{"regex": "x"}]}}, ("detail", "n", 0, "regex"), "unknown operator"),
        (
            {"detail": {"n": [{"prefix": "a", "suffix": "b"}]}},
            ("detail", "n", 0),
            "expected a value or a mapping",
        ),
        ({"detail": {"n": [{"exists": "yes"}]}}, ("detail", "n", 0, "exists"), "expected true or false"),
        ({"detail": {"n": [{"cidr": "10.0.0.300/8"}]}}, ("detail", "n", 0, "cidr"), "expected an IP network"),
        (
            {"detail": {"n": [{"anything-but": ["a", 1]}]}},
            ("detail", "n", 0, "anything-but"),
            "expected a list of",
        ),
        ({"$or": [{"source": ["x"]}]}, ("$or",), "expected a list of at least two sub-patterns"),
    ],
)
def test_bad_patterns_name_where(pattern: Any, path: tuple[Any, ...], message: str) -> None:
    found = problems(pattern)
    assert found and found[0][0] == path and found[0][1].startswith(message)
