"""The read-back progress line: piped output stays a few readable lines, --json is JSON lines."""

from __future__ import annotations

import io
import json

from cloudsync_cli.commands.ticker import Ticker, fraction_bar


def test_piped_lines_are_spaced_and_never_repeated() -> None:
    now = [0.0]
    out = io.StringIO()
    ticker = Ticker(out, every_s=5.0, clock=lambda: now[0])
    for second, text in enumerate(["1/4", "2/4", "3/4", "4/4"]):
        now[0] = second * 2.0
        ticker.update(text)
    ticker.done("4/4")
    assert out.getvalue().splitlines() == ["1/4", "4/4"]


def test_json_progress_events() -> None:
    out = io.StringIO()
    ticker = Ticker(out, as_json=True, every_s=0.0)
    ticker.update("1/2", objects=1)
    ticker.done("2/2", objects=2)
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert events == [{"event": "progress", "text": "1/2", "objects": 1},
                      {"event": "progress", "text": "2/2", "objects": 2}]


def test_fraction_bar() -> None:
    assert fraction_bar(0.5, 4) == "[##..]" and fraction_bar(2.0, 2) == "[##]"
