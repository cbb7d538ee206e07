"""The workflow's contract: each payload reads what it writes, rejects what is malformed, keeps
the shapes the ASL and the stored rows have always had, and is documented field by field."""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
from pathlib import Path
from typing import Any

import pytest

from cloudsync_core import contract
from cloudsync_core.contract import (
    PAYLOADS,
    ArchivedRecord,
    ExecutionInput,
    IndexRequest,
    Outcome,
    PreparedMedium,
    RunEvent,
    Slice,
    StepFailure,
    TransferResult,
    TransferSlice,
    UploadPlan,
    WorkUnit,
)
from cloudsync_core.errors import BadEventError, InvalidMediaError
from cloudsync_core.sync.starter import StartRequest
from cloudsync_core.tracker import MediaRow
from cloudsync_defs.workflow import FUNCTIONS_IN_WORKFLOW, render_transfer_definition

INTERNALS = Path(__file__).resolve().parents[2] / "docs" / "INTERNALS.md"
UNITS = [{"file": "source-1", "first": 1, "last": 3}, {"file": "source-2", "first": 1, "last": 1}]
DONE = {"file_id": "source-1", "key": "gopro-videos/2024/06/M1/GX010001.MP4",
        "version_id": "v1", "size": 15728717, "crc32": "AAAAAA==", "origin": "unknown",
        "origin_why": "part size ambiguous"}
# An upload record as prepare, the transfer steps and finalize have always stored it.
STORED_UPLOAD = {"key": "gopro-videos/2024/06/M1/GX010001.MP4", "size": 15728717,
                 "part_size": 5242880, "ranges": True, "upload_id": "u-1",
                 "origin_etag": '"0123456789abcdef0123456789abcdef-3"',
                 "last_modified": "Mon, 01 Jun 2026 10:00:00 GMT", "restarts": 1,
                 "origin_part": 5242880, "origin_guess": True,
                 "md5": {"1": "a" * 32, "2": "b" * 32}, "source_changed": True, "done": DONE}
EXECUTION = {"provider": "gopro", "media_id": "M1", "wake": 3, "run_id": "run-1",
             "correlation_id": "run-1/M1/w3", "started_at": "2026-11-24T02:00:00.000Z"}
EXAMPLES: dict[type, dict[str, Any]] = {
    ExecutionInput: EXECUTION,
    WorkUnit: UNITS[0],
    Slice: {"units": UNITS},
    TransferSlice: {"provider": "gopro", "media_id": "M1", "wake": 3, "correlation_id": "c",
                    "deadline": 1764000000.5, "slice": {"units": UNITS}},
    StepFailure: {**EXECUTION, "error": {"Error": "SizeMismatchError", "Cause": "{}"}},
    RunEvent: {"run_id": "run-1", "correlation_id": "c"},
    IndexRequest: {"provider": "gopro", "media_id": "M1", "correlation_id": "c"},
    PreparedMedium: {"slices": [{"units": UNITS}], "deadline": 1764000240.0, "files": 2,
                     "bytes": 15728717},
    TransferResult: {"parts": 3, "bytes": 15728717, "stopped_by_deadline": False},
    Outcome: {"status": "COMPLETED", "run_complete": True},
    ArchivedRecord: DONE,
    UploadPlan: STORED_UPLOAD,
}


def test_every_payload_type_reads_what_it_writes() -> None:
    assert set(EXAMPLES) == set(PAYLOADS)
    for cls, payload in EXAMPLES.items():
        wire = json.loads(json.dumps(payload))
        assert cls.from_payload(wire).as_payload() == payload, cls.__name__  # type: ignore[attr-defined]


def test_an_upload_record_without_its_optional_fields_stays_without_them() -> None:
    minimal = {"key": "k", "size": 7, "part_size": 7, "ranges": False, "upload_id": None,
               "origin_etag": None, "last_modified": None, "restarts": 0}
    plan = UploadPlan.from_payload(minimal)
    assert plan.moves_whole and plan.md5_numbers is None and plan.done is None
    assert plan.as_payload() == minimal
    assert UploadPlan.from_payload(STORED_UPLOAD).md5_numbers == {1, 2}


@pytest.mark.parametrize(("cls", "payload"), [
    (ExecutionInput, {"media_id": "M1", "wake": 1}),  # no provider
    (ExecutionInput, {"provider": "gopro", "media_id": "M1", "wake": 1.5}),
    (ExecutionInput, {"provider": "gopro", "media_id": "M1", "wake": True}),
    (ExecutionInput, ["not", "an", "object"]),
    (TransferSlice, {**EXAMPLES[TransferSlice], "slice": {"units": []}}),
    (TransferSlice, {**EXAMPLES[TransferSlice], "deadline": "soon"}),
    (TransferSlice, {**EXAMPLES[TransferSlice], "slice": {"units": [{"file": "f", "first": 1}]}}),
    (RunEvent, {"correlation_id": "c"}),
    (PreparedMedium, {"slices": "none", "deadline": 1, "files": 1, "bytes": 1}),
    (Outcome, {"run_complete": True}),
    (UploadPlan, {"size": 1, "part_size": 1}),  # no key
    (UploadPlan, {**STORED_UPLOAD, "md5": {"one": "a" * 32}}),
    (UploadPlan, {**STORED_UPLOAD, "ranges": "yes"}),
    (UploadPlan, {**STORED_UPLOAD, "done": {"key": "k", "size": 1}}),  # no file_id
    (ArchivedRecord, {**DONE, "size": "big"}),
])
def test_malformed_payloads_are_bad_events(cls: Any, payload: Any) -> None:
    with pytest.raises(BadEventError):
        cls.from_payload(payload)


def test_an_unsafe_media_id_for_the_index_is_invalid_media_as_before() -> None:
    with pytest.raises(InvalidMediaError):
        IndexRequest.from_payload({"media_id": "../x"})
    assert IndexRequest.from_payload({"media_id": "M1"}).provider == "gopro"


def test_the_execution_input_is_the_json_the_starter_always_wrote() -> None:
    request = StartRequest.from_values({"provider": "gopro", "media_id": "M1", "wake": 3,
                                        "status": "PENDING", "run_id": "run-1"})
    assert request is not None
    assert json.dumps(request.execution_input().as_payload()) == (
        '{"provider": "gopro", "media_id": "M1", "wake": 3, "run_id": "run-1", '
        '"correlation_id": "run-1/M1/w3"}')


def test_a_row_reads_its_uploads_typed() -> None:
    row = MediaRow.from_values({"provider": "gopro", "media_id": "M1",
                                "uploads": {"source-1": STORED_UPLOAD}})
    assert row.uploads == {"source-1": UploadPlan.from_payload(STORED_UPLOAD)}
    assert row.uploads["source-1"].done == ArchivedRecord.from_payload(DONE)
    with pytest.raises(BadEventError):
        MediaRow.from_values({"provider": "gopro", "media_id": "M1", "uploads": {"f": {}}})


# --- the ASL reads exactly what the steps write, and writes exactly what they read ------------


def _states() -> dict[str, Any]:
    arns = {n: f"arn:aws:lambda:us-east-1:123456789012:function:cs-{n}"
            for n in FUNCTIONS_IN_WORKFLOW}
    definition = json.loads(render_transfer_definition(
        function_arns=arns, table_name="tracker", max_concurrent_media=5, map_concurrency=4))
    states: dict[str, Any] = definition["States"]
    return states


def _keys(parameters: dict[str, Any]) -> set[str]:
    return {k.removesuffix(".$") for k in parameters}


def test_the_workflow_passes_each_step_the_fields_of_its_payload() -> None:
    states = _states()
    assert _keys(states["Prepare"]["Parameters"]) == set(EXECUTION)
    assert _keys(states["Finalize"]["Parameters"]) == set(EXECUTION) - {"started_at"}
    assert _keys(states["MarkFailed"]["Parameters"]) == set(EXAMPLES[StepFailure]) - {
        "started_at"}
    assert _keys(states["Transfer"]["ItemSelector"]) == set(EXAMPLES[TransferSlice])
    assert _keys(states["Notify"]["Parameters"]) == set(EXAMPLES[RunEvent])
    assert _keys(states["Index"]["Parameters"]) == set(EXAMPLES[IndexRequest])
    # What it reads from the steps' results: prepare's plan and the finishing outcome.
    assert states["Prepare"]["ResultPath"] == "$.plan"
    assert states["Transfer"]["ItemsPath"] == "$.plan.slices"
    assert states["Transfer"]["ItemSelector"]["deadline.$"] == "$.plan.deadline"
    read = set(re.findall(r"\$\.outcome\.(\w+)", json.dumps(states)))
    assert read == set(EXAMPLES[Outcome])
    read = set(re.findall(r"\$\.plan\.(\w+)", json.dumps(states)))
    assert read <= set(EXAMPLES[PreparedMedium])


# --- docs/INTERNALS.md lists every field of every payload ---------------------------------------


def _documented() -> dict[str, list[str]]:
    """Each ``#### `Name` `` section's table: the first column's names, in order."""
    found: dict[str, list[str]] = {}
    current: str | None = None
    for line in INTERNALS.read_text().splitlines():
        heading = re.fullmatch(r"#### `(\w+)`", line.strip())
        if heading:
            current = heading.group(1)
            found[current] = []
        elif line.startswith("#"):
            current = None
        elif current and (cell := re.match(r"\| `(\w+)` \|", line)):
            found[current].append(cell.group(1))
    return found


def test_every_payload_type_is_listed_and_documented_in_internals() -> None:
    defined = [obj for _, obj in inspect.getmembers(contract, dataclasses.is_dataclass)
               if isinstance(obj, type) and obj.__module__ == contract.__name__]
    assert set(defined) == set(PAYLOADS)
    documented = _documented()
    assert list(documented) == [cls.__name__ for cls in PAYLOADS]
    for cls in PAYLOADS:
        fields = [f.name for f in dataclasses.fields(cls)]
        assert documented[cls.__name__] == fields, f"INTERNALS.md's table for {cls.__name__}"
