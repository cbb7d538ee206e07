"""Every AWS request the system makes is allowed by the policies it deploys, and no more is granted.

moto evaluates no policy: this layer does. It records every request of an end-to-end run in the
local cloud, per principal (conftest ``recording``), maps each to the IAM request AWS would
authorise on the stack's real ARNs, and judges it with ``@cloud-copilot/iam-simulate`` against
the policies the Pulumi program builds for dev and for prod: the role's identity policy, and the
bucket, key or topic policy. The converse holds too: each granted action is used by a recorded
request of its principal, or ``UNRECORDED_GRANTS`` says in one line why it is needed all the
same, or ``COARSE_GRANTS`` names the catalog grant that carries it for another holder. Synthetic
cases (negative.py) prove the evaluator and the policies bite.
"""

from __future__ import annotations

from collections import Counter

import pytest

from cloudsync_defs.functions import FUNCTIONS
from cloudsync_local.cloud.requests_log import (
    FUNCTION_PREFIX,
    KEPT_PARAMS,
    PRESENCE_PARAMS,
    SCHEDULER,
    STREAM_MAPPING,
    UNATTRIBUTED,
    WORKFLOW,
    function_principal,
)

from .conftest import Judged, Recording
from .negative import EXPECTED

pytestmark = pytest.mark.permissions

ANY_FUNCTION = "function:*"
# Granted, and needed, though no request of the recorded run shows it: (principal, action) ->
# why. A reason for a grant that is gone, or that the run uses after all, fails the test.
UNRECORDED_GRANTS: dict[tuple[str, str], str] = {
    (ANY_FUNCTION, "logs:CreateLogStream"): "the Lambda runtime writes the function's logs",
    (ANY_FUNCTION, "logs:PutLogEvents"): "the Lambda runtime writes the function's logs",
    (ANY_FUNCTION, "xray:PutTraceSegments"): "active tracing: the X-Ray SDK sends segments",
    (ANY_FUNCTION, "xray:PutTelemetryRecords"): "active tracing: the X-Ray daemon reports",
    (ANY_FUNCTION, "xray:GetSamplingRules"): "active tracing: the X-Ray SDK samples",
    (ANY_FUNCTION, "xray:GetSamplingTargets"): "active tracing: the X-Ray SDK samples",
    (WORKFLOW, "xray:PutTraceSegments"): "the state machine's X-Ray tracing",
    (WORKFLOW, "xray:PutTelemetryRecords"): "the state machine's X-Ray tracing",
    (WORKFLOW, "xray:GetSamplingRules"): "the state machine's X-Ray tracing",
    (WORKFLOW, "xray:GetSamplingTargets"): "the state machine's X-Ray tracing",
    **{(WORKFLOW, a): "Step Functions sets up its log delivery with the role (vended logs)"
       for a in ("logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
                 "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
                 "logs:DescribeResourcePolicies", "logs:DescribeLogGroups")},
    (function_principal("list"), "sqs:SendMessage"):
        "on-failure destination: Lambda sends a failed async invoke with the role",
    (function_principal("start"), "sqs:SendMessage"):
        "on-failure destination: the mapping sends a batch it gave up on with the role",
    (SCHEDULER, "sqs:SendMessage"): "the schedule's dead-letter queue, for a failed delivery",
    (function_principal("start"), "dynamodb:ListStreams"):
        "Lambda's stream poller lists the table's streams; the local player is given the ARN",
    **{(function_principal(f), "s3:ListBucket"):
       "S3 answers a HeadObject of a missing key 404 (not 403) only with it (the 404 case)"
       for f in ("prepare", "transfer", "finalize", "verify")},
    (function_principal("prepare"), "s3:AbortMultipartUpload"):
        "aborts an earlier upload it cannot resume (another plan, a changed source)",
    (function_principal("transfer"), "s3:AbortMultipartUpload"):
        "aborts the upload when the source changed under the transfer",
    (function_principal("finalize"), "s3:AbortMultipartUpload"):
        "aborts an upload whose object fails the origin's checksum",
    (function_principal("mark_failed"), "s3:AbortMultipartUpload"):
        "aborts the open uploads of a medium that failed for good",
    (function_principal("prepare"), "secretsmanager:PutSecretValue"):
        "renews an expired token when prepare is the first to meet it",
    (function_principal("index"), "secretsmanager:PutSecretValue"):
        "renews an expired token when the index is the first to meet it (gpmf sidecar)",
    (function_principal("index"), "s3:ListBucket"):
        "S3 answers a HeadObject of a missing original 404 (not 403) only with it",
    (function_principal("index"), "s3:AbortMultipartUpload"):
        "archive_write is coarse: the index only puts _meta/telemetry.json (a finer grant "
        "would drop this)",
    **{(function_principal(f), "sns:Publish"):
       "the pause alert when GoPro refuses the login (sync/account.py)"
       for f in ("authenticate", "list")},
}


# A catalog grant (cloudsync_defs.functions) is one kind of access for every function that holds
# it: (statement Sid, action) -> why the kind carries an action that some of its holders do not
# use. Narrowing these needs finer grants in the catalog.
COARSE_GRANTS: dict[tuple[str, str], str] = {
    ("TableRead", "dynamodb:BatchGetItem"): "table_read: the lister's batched lookups",
    ("TableRead", "dynamodb:Query"): "table_read: the run and slot queries of most holders",
    ("TableWrite", "dynamodb:PutItem"): "table_write: the lister's new rows and runs",
    ("ArchiveRead", "s3:GetObject"): "archive_read: finalize reads back what it verifies",
    ("ArchiveRead", "s3:GetObjectVersion"): "archive_read: transfer and finalize head versions",
    ("ArchiveWrite", "s3:PutObject"): "archive_write: mark_failed only aborts uploads",
    ("ArchiveWrite", "s3:PutObjectTagging"): "archive_write: tags go with the object's creation",
    ("ArchiveWrite", "s3:ListMultipartUploadParts"): "archive_write: mark_failed only aborts",
    ("ArchiveRead", "s3:GetObjectVersionTagging"): "archive_read: finalize reads a version's tags",
    ("ArchiveWrite", "s3:PutObjectVersionTagging"):
        "archive_write: finalize adds the origin check's verdict to a version's tags",
    ("KeyUse", "kms:GenerateDataKey"): "the key serves S3 and SNS for every holder of either",
    ("KeyUse", "kms:Decrypt"): "the key serves S3 and SNS for every holder of either",
}


def principals_of(judged: Judged) -> dict[str, set[str]]:
    """Principal -> the actions its recorded requests used."""
    used: dict[str, set[str]] = {}
    for request in judged.requests:
        used.setdefault(request.principal, set()).add(request.action)
    used.setdefault(function_principal("start"), set()).update(
        used.get(STREAM_MAPPING, set()))  # the mapping reads the stream with start's role
    return used


def reason(principal: str, action: str) -> str | None:
    if principal.startswith("function:") and (ANY_FUNCTION, action) in UNRECORDED_GRANTS:
        return UNRECORDED_GRANTS[(ANY_FUNCTION, action)]
    return UNRECORDED_GRANTS.get((principal, action))


def test_the_recording_saw_every_principal_and_attributed_every_call(
        recording: Recording) -> None:
    seen = Counter(call.principal for call in recording.calls)
    assert UNATTRIBUTED not in seen, [c for c in recording.calls if c.principal == UNATTRIBUTED]
    expected = {WORKFLOW, SCHEDULER, STREAM_MAPPING,
                *(function_principal(s.name) for s in FUNCTIONS)}
    assert expected <= set(seen), f"no request recorded for {expected - set(seen)}"


def test_the_log_keeps_identifiers_never_a_value(recording: Recording) -> None:
    allowed = KEPT_PARAMS | PRESENCE_PARAMS | {"RequestItems", "TransactItems"}
    assert {k for call in recording.calls for k in call.params} <= allowed
    writes = [c for c in recording.calls if c.operation == "PutSecretValue"]
    assert writes and all("SecretString" not in c.params for c in writes)


def test_every_recorded_request_is_allowed(judged: Judged) -> None:
    refused = [
        f"{r.principal} {r.action} on {r.resource} ({r.source}): {v.explain()}"
        for r, v in zip(judged.requests, judged.verdicts, strict=True) if v.result != "Allowed"
    ]
    assert refused == [], "\n".join(refused)


def test_no_context_key_of_a_request_was_ignored(judged: Judged) -> None:
    # The simulator drops keys that do not apply to the action: a condition on one would
    # silently be judged without it.
    ignored = {(r.action, k) for r, v in zip(judged.requests, judged.verdicts, strict=True)
               for k in v.ignored_context_keys}
    assert ignored == set()


def grant_uses(judged: Judged) -> tuple[list[str], list[str]]:
    """(unexplained, stale reasons) over every principal's granted actions, by statement Sid.

    A granted action is accounted for when its principal used it, or it has a reason of its
    own, or its statement is a catalog grant that another holder uses it for and
    ``COARSE_GRANTS`` says so.
    """
    used = principals_of(judged)
    holders: dict[tuple[str, str], set[str]] = {}  # (Sid, action) -> principals granted it
    for principal, doc in judged.stack.identity.items():
        if principal == STREAM_MAPPING:
            continue  # start's role, counted there
        for stmt in doc["Statement"]:
            for action in stmt["Action"]:
                holders.setdefault((stmt["Sid"], action), set()).add(principal)
    unexplained, stale, coarse_needed = [], [], set()
    for (sid, action), principals in sorted(holders.items()):
        users = {p for p in principals if action in used.get(p, set())}
        for principal in sorted(principals):
            if principal in users:
                if (principal, action) in UNRECORDED_GRANTS:
                    stale.append(f"{principal}: {action} is used, drop its reason")
            elif reason(principal, action) is not None:
                continue
            elif users and (sid, action) in COARSE_GRANTS:
                coarse_needed.add((sid, action))
            else:
                unexplained.append(f"{principal}: {action} ({sid}), used by "
                                   f"{', '.join(sorted(users)) or 'no holder'}")
    granted = {(p, a) for (_, a), ps in holders.items() for p in ps}
    for principal, action in UNRECORDED_GRANTS:
        if not any(a == action and (p == principal or (
                principal == ANY_FUNCTION and p.startswith(FUNCTION_PREFIX)))
                for p, a in granted):
            stale.append(f"{principal}: {action} is no longer granted, drop its reason")
    stale += [f"{sid} {action}: no longer needed in COARSE_GRANTS"
              for sid, action in sorted(set(COARSE_GRANTS) - coarse_needed)]
    return unexplained, stale


def test_every_grant_is_used_or_explained(judged: Judged) -> None:
    unexplained, stale = grant_uses(judged)
    assert unexplained == [] and stale == [], "\n".join(unexplained + stale)


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_the_evaluator_bites(judged: Judged, case: str) -> None:
    result, sid = EXPECTED[case]
    verdict = judged.negatives[case]
    assert verdict.result == result, f"{case}: {verdict.explain()}"
    if sid is not None:
        assert sid in verdict.sids(), f"{case}: {verdict.explain()}"


def test_an_upload_part_without_sse_header_is_allowed_by_the_fixed_policy(
        judged: Judged) -> None:
    # The regression the old policy's ...IfExists caused: the same request, today's policy.
    parts = [(r, v) for r, v in zip(judged.requests, judged.verdicts, strict=True)
             if r.source == "s3 UploadPart" and r.action == "s3:PutObject"]
    assert parts, "the run uploaded no part"
    assert all("s3:x-amz-server-side-encryption" not in r.context for r, _ in parts)
    assert {v.result for _, v in parts} == {"Allowed"}


def test_requests_judged_per_principal(judged: Judged, capsys: pytest.CaptureFixture[str]) -> None:
    counts = Counter(r.principal for r in judged.requests)
    assert sum(counts.values()) == len(judged.verdicts) > 0
    with capsys.disabled():
        print(f"\n{judged.stack.graph.stack}: {sum(counts.values())} requests judged: "
              + ", ".join(f"{p} {n}" for p, n in sorted(counts.items())))
