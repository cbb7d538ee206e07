"""``sync --wait`` and media whose execution timed out (Express: no Catch runs at the limit).

Such a medium stays IN_PROGRESS until the next run's sweep counts it. The wait used to poll on
until ``--timeout`` (or for ever) for a run that cannot finish before that sweep; now it ends
once every medium of the run is finished or dead at the time limit, and says which. Timed-out
counts the sweep wrote are shown in the text, as the JSON already carried them.
"""

from __future__ import annotations

import io
import json
import re

import pytest

from cloudsync_cli import main as cli
from cloudsync_cli.commands import sync
from cloudsync_cli.context import Context
from cloudsync_cli.errors import CliError
from cloudsync_cli.runs import run_summary
from cloudsync_core.tracker import IN_PROGRESS, RunRecord
from tests.adapters.test_cli_sync_moved import _count, _row, ctx  # noqa: F401  (the fixture)

LONG_AGO = "2020-01-01T00:00:00.000Z"


def _run_with_one_dead_medium(ctx: Context, claimed_at: str) -> None:  # noqa: F811
    ctx.tracker.start_run("r1", "gopro", "cli")
    ctx.tracker.end_listing("r1", queued=3)
    _count("r1", completed=2)
    _row("m3", IN_PROGRESS, "r1", claimed_at=claimed_at)


def test_the_wait_ends_when_the_rest_of_its_run_timed_out(ctx: Context) -> None:  # noqa: F811
    _run_with_one_dead_medium(ctx, LONG_AGO)
    code = sync.run(cli.parse(["sync", "--wait", "--json", "--timeout", "5"]), ctx)
    assert isinstance(ctx.out, io.StringIO) and isinstance(ctx.err, io.StringIO)
    assert ctx.out.getvalue(), ctx.err.getvalue()  # not "has not finished after 5 s"
    document = json.loads(ctx.out.getvalue())
    assert code == 1 and document["ok"] is False
    assert document["timed_out_unswept"] == ["gopro/m3"]
    assert document["run"]["completed"] == 2


def test_the_text_names_the_timed_out_media(ctx: Context) -> None:  # noqa: F811
    _run_with_one_dead_medium(ctx, LONG_AGO)
    assert sync.run(cli.parse(["sync", "--wait", "--timeout", "5"]), ctx) == 1
    assert isinstance(ctx.out, io.StringIO)
    assert "1 medium timed out" in ctx.out.getvalue() and "gopro/m3" in ctx.out.getvalue()


def test_a_live_execution_is_still_waited_for(ctx: Context) -> None:  # noqa: F811
    _run_with_one_dead_medium(ctx, "2999-01-01T00:00:00.000Z")
    with pytest.raises(CliError, match="has not finished after"):
        sync.run(cli.parse(["sync", "--wait", "--json", "--timeout", "0.2"]), ctx)


@pytest.mark.parametrize("timed_out", [0, 2])
def test_the_summary_and_listing_text_show_timed_out_counts(timed_out: int) -> None:
    run = RunRecord(run_id="r1", provider="gopro", trigger="cli",
                    started_at="2026-11-30T02:00:00.000Z", queued=3, completed=1, moved=2,
                    moved_to=("r2",), timed_out=timed_out)
    listing = sync.listing_text({"run_id": "r2", "queued": 2, "listed": 5, "new": 0,
                                 "requeued": 2, "timed_out": timed_out})
    assert bool(re.search(r"timed out: +2 \(", run_summary(run))) == bool(timed_out)
    assert ("2 timed out (swept)" in listing) == bool(timed_out)
