"""Selective sync's parser and rules, the incremental listing's decisions, the stack setting."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta

import pytest

from cloudsync_cli.commands.sync_plan import (
    add_selection_options,
    estimate_seconds,
    options_from_args,
)
from cloudsync_cli.errors import CliError
from cloudsync_core.errors import ConfigurationError
from cloudsync_core.events import ListOptions
from cloudsync_core.models import ListFilters, MediaItem
from cloudsync_core.settings import ENV_INCLUDE_RENDERS, ENV_MEDIA_TYPES, ENV_SELECTION
from cloudsync_core.sync.listing_state import (
    FULL,
    INCREMENTAL,
    ORDER_EVIDENCE,
    OVERLAP,
    ListingState,
    UploadOrder,
    next_state,
    plan_listing,
)
from cloudsync_core.sync.selection import (
    Selection,
    deployed_selection,
    parse_selection,
    parse_size,
    selection_environment,
)
from components.config import ConfigError, parse

T = datetime(2024, 6, 1, 12, tzinfo=UTC)
NOW = datetime(2024, 6, 10, tzinfo=UTC).timestamp()


def item(media_id: str = "a", *, when: datetime | None = T, size: int | None = 10 * 2**20,
         kind: str | None = "Video", camera: str | None = "HERO12 Black",
         **facts: str) -> MediaItem:
    return MediaItem("gopro", media_id, "GX1.MP4", kind, when, when, size, 1, facts=facts,
                     camera=camera)


def test_sizes_and_dates_parse_as_people_write_them() -> None:
    assert parse_size("500MB") == 500_000_000 and parse_size("2 GiB") == 2 * 2**30
    assert parse_size(1234) == 1234 and parse_size("1.5kib") == 1536
    for bad in ("-1", "ten", True, "5 XB"):
        with pytest.raises(ValueError):
            parse_size(bad)
    chosen = parse_selection({"capturedSince": "2024-06-01", "capturedUntil": "2024-06-01"})
    assert chosen.since == datetime(2024, 6, 1, tzinfo=UTC)
    assert chosen.until is not None and chosen.until.hour == 23  # a bare date: the whole day


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(ConfigurationError) as e:
        parse_selection({"capturedSince": "2024-13-01", "minSize": "big", "order": "random",
                         "cameras": "HERO", "includeRenders": "yes", "colour": "red"})
    text = str(e.value)
    for word in ("capturedSince", "minSize", "order", "includeRenders", "'colour'"):
        assert word in text
    assert parse_selection({"cameras": "HERO12 Black, GoPro Max"}).cameras == (
        "HERO12 Black", "GoPro Max")  # a comma list is a list


def test_each_rule_gives_its_reason_and_unknown_facts_keep_a_medium() -> None:
    s = parse_selection({"capturedSince": "2024-01-01", "capturedUntil": "2024-12-31",
                         "mediaTypes": ["Video"], "minSize": "1MB", "maxSize": "1GB",
                         "cameras": ["hero12  black"]})
    assert s.leaves_out(item()) is None
    assert s.leaves_out(item(when=T - timedelta(days=365))) == "captured before capturedSince"
    assert s.leaves_out(item(when=T + timedelta(days=365))) == "captured after capturedUntil"
    assert s.leaves_out(item(kind="Photo")) == "type not in mediaTypes"
    assert s.leaves_out(item(size=10)) == "smaller than minSize"
    assert s.leaves_out(item(size=2 * 10**9)) == "larger than maxSize"
    assert s.leaves_out(item(camera="GoPro Max")) == "camera not in cameras"
    assert s.leaves_out(item(composition="export")) == "a share render (includeRenders is false)"
    assert parse_selection({"includeRenders": True}).leaves_out(item(composition="export")) is None
    unknown = item(when=None, size=None, kind=None, camera=None)
    assert s.leaves_out(unknown) is None  # nothing known: archived, never silently left out


def test_queue_orders_and_fingerprints() -> None:
    media = [item("old", when=T - timedelta(days=9), size=5), item("new", when=T, size=1),
             item("none", when=None, size=None), item("mid", when=T - timedelta(days=1), size=9)]

    def order(name: str) -> list[str]:
        chosen = parse_selection({"order": name} if name != "newest" else {})
        return [m.media_id for m in sorted(media, key=chosen.queue_key())]

    assert order("newest") == ["new", "mid", "old", "none"]
    assert order("oldest") == ["old", "mid", "new", "none"]
    assert order("smallest") == ["new", "old", "mid", "none"]
    assert order("largest") == ["mid", "old", "new", "none"]
    a = parse_selection({"cameras": ["HERO12 Black", "Max"], "order": "oldest"})
    b = parse_selection({"cameras": ["max", "hero12 black"]})
    assert a.fingerprint() == b.fingerprint()  # the order does not change which media
    assert a.fingerprint() != Selection().fingerprint()
    assert a.merged({"order": "largest"}).order == "largest"


def test_the_deployed_environment_carries_the_selection_and_folds_the_older_keys() -> None:
    chosen = parse_selection({"capturedSince": "2024-01-01", "maxSize": "4GiB"})
    env = selection_environment(chosen)
    assert deployed_selection(env) == chosen
    assert selection_environment(Selection()) == {}
    older = deployed_selection({ENV_MEDIA_TYPES: "Video,Photo", ENV_INCLUDE_RENDERS: "true"})
    assert older.media_types == ("Video", "Photo") and older.include_renders
    with pytest.raises(ConfigurationError):
        deployed_selection({ENV_SELECTION: "{not json"})


def test_the_stack_setting_is_validated_once_and_folds_media_types_and_renders() -> None:
    base = {"alertEmail": "me@example.com"}
    cfg = parse("dev", {**base, "selection": json.dumps({"minSize": "1MB"}),
                        "mediaTypes": '["Video"]', "includeRenders": "true",
                        "fullListingDays": "3"})
    assert cfg.media_selection.media_types == ("Video",) and cfg.media_selection.include_renders
    assert cfg.media_selection.min_size == 10**6 and cfg.full_listing_days == 3
    assert parse("dev", base).full_listing_days == 7
    with pytest.raises(ConfigError) as e:
        parse("dev", {**base, "selection": json.dumps({"mediaTypes": ["Photo"], "maxSize": -1}),
                      "mediaTypes": '["Video"]'})
    assert "cloudsync:selection: mediaTypes is set here and as its own key" in str(e.value)
    assert "maxSize" in str(e.value)


def test_plan_listing_says_why_it_lists_fully() -> None:
    fp = Selection().fingerprint()
    mark = datetime(2024, 6, 9, tzinfo=UTC).isoformat()
    recent = ListingState(fp, mark, full_at="2024-06-08T00:00:00.000Z")
    assert plan_listing(recent, fp, every_days=7, now=NOW).mode == INCREMENTAL
    assert plan_listing(recent, fp, every_days=7, now=NOW).cutoff == (
        datetime(2024, 6, 9, tzinfo=UTC) - OVERLAP)
    reasons = {
        "asked for": plan_listing(recent, fp, every_days=7, now=NOW, full_asked=True),
        "a one-off selection": plan_listing(recent, fp, every_days=7, now=NOW, one_off=True),
        "fullListingDays is 0": plan_listing(recent, fp, every_days=0, now=NOW),
        "no earlier complete listing": plan_listing(None, fp, every_days=7, now=NOW),
        "the selection changed": plan_listing(recent, "other", every_days=7, now=NOW),
        "the last full listing is 1+ days old": plan_listing(recent, fp, every_days=1, now=NOW),
    }
    for reason, plan in reasons.items():
        assert (plan.mode, plan.reason) == (FULL, reason)


def test_upload_order_stops_only_on_evidence_and_distrusts_disorder() -> None:
    cutoff = T
    order = UploadOrder(cutoff)
    order.see(item(when=T + timedelta(hours=1)))
    for n in range(ORDER_EVIDENCE):
        assert not order.may_stop()
        order.see(item(when=T - timedelta(hours=n + 1)))
    assert order.may_stop() and order.newest == T + timedelta(hours=1)
    order.see(item(when=T + timedelta(days=1)))  # newer after older: not sorted by upload
    assert not order.may_stop() and not order.trusted
    blind = UploadOrder(cutoff)
    blind.see(item(when=None))
    assert not blind.trusted
    state = next_state(None, "fp", FULL, order, run_id="r1", now=NOW)
    assert state.mark == (T + timedelta(days=1)).isoformat() and state.full_run == "r1"
    later = next_state(state, "fp", INCREMENTAL, UploadOrder(None), run_id="r2", now=NOW + 60)
    assert later.full_run == "r1" and later.incremental_at and later.mark == state.mark


def test_sync_flags_become_the_list_input() -> None:
    parser = argparse.ArgumentParser()
    add_selection_options(parser)
    args = parser.parse_args(["--since", "2024-01-01", "--type", "Video", "--type", "Photo",
                              "--camera", "HERO12 Black", "--min-size", "5MB", "--no-renders",
                              "--order", "oldest", "--limit", "3", "--dry-run"])
    options = options_from_args(args)
    assert options == ListOptions(
        selection={"capturedSince": "2024-01-01", "minSize": "5MB", "order": "oldest",
                   "mediaTypes": ["Video", "Photo"], "cameras": ["HERO12 Black"],
                   "includeRenders": False}, limit=3, dry_run=True)
    assert ListOptions.from_event({"trigger": "cli", **options.as_event()}) == options
    with pytest.raises(CliError, match="capturedSince"):
        options_from_args(parser.parse_args(["--since", "yesterday"]))
    with pytest.raises(CliError, match="--limit"):
        options_from_args(parser.parse_args(["--limit", "0"]))
    with pytest.raises(ConfigurationError):
        ListOptions.from_event({"limit": "2"})


def test_the_dry_run_estimate_follows_the_stack_settings() -> None:
    report = {"queued": 10, "expected_bytes": 10 * 2**30, "max_concurrent_media": 5,
              "parallel_ranges": 8}
    five = estimate_seconds(report)
    assert estimate_seconds({**report, "max_concurrent_media": 1}) > 4 * five
    assert estimate_seconds({**report, "parallel_ranges": 16}) < five
    assert estimate_seconds({**report, "queued": 0}) == 0.0


def test_gopro_lists_by_upload_time_when_asked_and_reports_the_camera() -> None:
    import time

    from cloudsync_core.credentials import AccessGrant, StoredCredentials
    from cloudsync_core.providers.gopro.api import GoProProvider, parse_media_item
    from cloudsync_core.settings import Settings

    settings = Settings(
        table="t", bucket="b", secret_id="s", topic_arn="", state_machine_arn="",
        environment="test", gopro_api_url="http://127.0.0.1:9", gopro_client_id="",
        gopro_client_secret="", max_concurrent_media=5, retry_budget=3, time_budget_s=240,
        lease_s=360, part_size_mib=0, parallel_ranges=8, media_types=(), max_items=None)
    creds = StoredCredentials(provider="gopro", mode="oauth", access_token="a",
                              refresh_token="r", expires_at=time.time() + 3600,
                              updated_at=time.time())
    gopro = GoProProvider(settings=settings, grant=AccessGrant(creds))
    assert gopro.search_params(ListFilters(), 1)["order_by"] == "captured_at"
    assert gopro.search_params(ListFilters(order="uploaded"), 1)["order_by"] == "created_at"
    listed = parse_media_item({"id": "62NzWRrpPXm7o", "camera_model": "HERO12 Black"})
    assert isinstance(listed, MediaItem) and listed.camera == "HERO12 Black"
