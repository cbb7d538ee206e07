"""``cloudsync demo``: the whole system on this machine, explained as it goes.

It starts a simulated GoPro cloud with a varied library and a few faults, starts the local cloud
in this process pointed at it, logs in, syncs, adds media and syncs again (only the new ones
move), archives one medium again (a new object version), verifies the archive against S3 and
against the simulated source, prints a summary, and stops everything it started. The handlers'
logs (and anything else the embedded services print) go to a log file, not to the screen.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO

from cloudsync_core.readback import OK
from cloudsync_core.tracker import COMPLETED, MediaRow, RunRecord
from cloudsync_local.quiet import quiet_output

from ..context import Context
from ..errors import EXIT_FAILED, EXIT_OK, describe
from ..output import human_bytes, plural, table, to_json
from ..runs import Polling, follow_run
from ..stack import Aws, Target
from ..waiting import watch_for
from .login import store
from .resync import resync
from .sync import start_listing
from .verify import completed_rows, verify_rows
from .verify_read import jobs_of, read_all, summary_lines

if TYPE_CHECKING:
    from cloudsync_local.cloud import LocalCloud
    from cloudsync_local.simulator import GoProSimulator

PROVIDER: Final = "gopro"
LARGE_FILE: Final = 96 * 1024 * 1024  # one larger file: many parts, several ranges in parallel
RUN_TIMEOUT_S: Final = 600.0
GLOBAL_OPTIONS: Final = False  # the demo starts its own local cloud: no --endpoint-url, --stack


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo", help="see everything work on this machine (nothing to prepare)",
        description="Start a simulated GoPro cloud and the local cloud, sync, add media, sync "
        "again, resync one medium, verify the archive, print a summary, stop everything.",
    )
    p.add_argument("--json", action="store_true",
                   help="the story on stderr, the outcome (steps, result) as JSON on stdout")
    p.set_defaults(func=run, needs_aws=False)


# --- the demo ----------------------------------------------------------------------------------


@dataclass
class Step:
    name: str
    what: str
    media: str
    bytes: str
    ok: bool
    note: str = ""


@dataclass
class Demo:
    out: TextIO
    err: TextIO
    log_path: Path
    steps: list[Step] = field(default_factory=list)
    sim: GoProSimulator | None = None
    cloud: LocalCloud | None = None
    ctx: Context | None = None
    collisions: list[str] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)
    example_keys: list[str] = field(default_factory=list)
    as_json: bool = False

    def say(self, text: str = "") -> None:
        stream = self.err if self.as_json else self.out
        stream.write(text + "\n")
        stream.flush()

    def document(self, ok: bool, failure: str | None, seconds: float) -> dict[str, Any]:
        return {"ok": ok, "failure": failure, "seconds": round(seconds, 1),
                "log_file": str(self.log_path), "steps": [asdict(s) for s in self.steps]}

    def heading(self, number: int, text: str) -> None:
        self.say()
        self.say(f"== {number}. {text}")

    # --- setting up ----------------------------------------------------------------------

    def start(self) -> None:
        from cloudsync_defs.workflow import StateRetryPolicy
        from cloudsync_local.cloud import LocalCloud
        from cloudsync_local.simulator import GoProSimulator, build_demo_library

        self.heading(0, "Starting a simulated GoPro cloud and the local cloud")
        sim = self.sim = GoProSimulator().start()
        ids = build_demo_library(sim.library)
        ids.append(sim.library.add_video(
            filename="GX010099.MP4", size=LARGE_FILE, captured_at="2024-05-30T17:00:00Z"))
        names = Counter(str(sim.library.get(m).item.get("filename")) for m in ids)
        self.collisions = [n for n, c in names.items() if c > 1]
        self.malformed = [m for m in ids if sim.library.get(m).item.get("id") != m]
        # A few faults the system must ride out: throttling, a server error, a dropped connection.
        sim.faults.add("rate_limit", "cdn_get", count=1, retry_after=1)
        sim.faults.add("error", "download", count=1, status=503)
        sim.faults.add("reset", "cdn_get", count=1, after=3)
        good = len(ids) - len(self.malformed)
        total = sum(f.size for m in ids if m not in self.malformed
                    for f in sim.library.originals(m))
        odd = plural(len(self.malformed), "malformed listing entry", "malformed listing entries")
        self.say(f"GoPro simulator at {sim.base_url}: {good} media ({human_bytes(total)})"
                 + (f" plus {odd}" if self.malformed else "")
                 + "; it will answer once each with a 429 (Retry-After), a 503 and a dropped "
                 "connection.")
        if self.collisions:
            self.say(f"Camera file names that repeat across media: {', '.join(self.collisions)}")

        # Short retry intervals keep the demo quick; the product keeps its own.
        cloud = self.cloud = LocalCloud(
            0, gopro_api_url=sim.base_url,
            retry=StateRetryPolicy(interval_s=1, max_attempts=4, backoff_rate=1.0, max_delay_s=2),
        ).start()
        outputs = cloud.outputs()
        target = Target(cloud.endpoint_url, outputs.get("region"), None, "the demo started it")
        self.ctx = Context(Aws(target, fake_credentials=True), str(outputs.get("stack", "local")),
                           out=self.out, err=self.err, poll_s=0.5)
        self.say(f"Local cloud (moto) at {cloud.endpoint_url}: stack {self.ctx.outputs.stack}, "
                 f"table {self.ctx.outputs.table}, bucket {self.ctx.outputs.bucket}.")

    def login(self) -> None:
        from cloudsync_core.providers import DEFAULT_PROVIDER, token_client

        from .gopro import gopro_settings

        assert self.sim is not None and self.ctx is not None
        self.heading(1, "Logging in to GoPro (the simulator's test account)")
        settings = gopro_settings(self.ctx, self.sim.base_url)
        creds = token_client(DEFAULT_PROVIDER, settings).password_login(
            self.sim.username, self.sim.password)
        store(self.ctx, creds)
        self.say(f"Stored an OAuth token pair for {self.sim.username} in secret "
                 f"{self.ctx.outputs.secret_id} (tokens are never printed).")
        self.steps.append(Step("log in", "OAuth tokens stored in Secrets Manager", "-", "-", True))

    # --- the runs ------------------------------------------------------------------------

    def sync(self) -> tuple[dict[str, Any], RunRecord | None]:
        assert self.ctx is not None
        report = start_listing(self.ctx)
        queued = int(report.get("queued", 0))
        skipped = int(report.get("skipped") or 0)
        self.say(f"Listed {report.get('listed')} media: {report.get('new')} new, "
                 f"{report.get('requeued')} re-queued"
                 + (f", {plural(skipped, 'unusable entry', 'unusable entries')} skipped"
                    if skipped else "")
                 + f" -> {queued} queued (run {report.get('run_id')}).")
        run = self.follow(str(report["run_id"]), queued)
        self.say(self.run_line(run))
        return report, run

    def follow(self, run_id: str, queued: int) -> RunRecord | None:
        """Follow a run by the byte, a progress line every 2 s."""
        assert self.ctx is not None
        return follow_run(self.ctx.tracker, run_id, queued_hint=queued,
                          observer=watch_for(self.ctx, as_json=False, every_s=2.0),
                          polling=Polling(poll_s=0.5, timeout_s=RUN_TIMEOUT_S),
                          providers=self.ctx.providers)

    @staticmethod
    def run_line(run: RunRecord | None) -> str:
        if run is None:
            return "Nothing was queued."
        return (f"Run finished: {run.completed} archived, {run.failed} failed, {run.deleted} "
                f"deleted at source, {human_bytes(run.bytes)} moved.")

    def first_sync(self) -> None:
        self.heading(2, "First sync: everything is new")
        report, run = self.sync()
        ok = run is not None and run.failed == 0 and run.completed == run.queued > 0
        self.steps.append(Step(
            "first sync",
            "every medium is new: all archived"
            + (f"; {plural(int(report['skipped']), 'malformed entry', 'malformed entries')} "
               "skipped" if report.get("skipped") else ""),
            f"{run.completed}/{run.queued}" if run else "0",
            human_bytes(run.bytes) if run else "-", ok,
        ))

    def second_sync(self) -> None:
        assert self.sim is not None
        self.heading(3, "Three new media appear at GoPro; second sync")
        lib = self.sim.library
        added = [
            lib.add_video(filename="GX010042.MP4", size=4 * 1024 * 1024,
                          captured_at="2024-06-01T09:00:00Z"),
            lib.add_photo(raw=True, size=2 * 1024 * 1024, raw_size=3 * 1024 * 1024,
                          captured_at="2024-06-02T12:00:00Z"),
            lib.add_burst(frames=6, frame_size=256 * 1024, captured_at="2024-06-03T15:30:00Z"),
        ]
        self.say("Added: a video named GX010042.MP4 again, a photo with RAW, a 6-frame burst.")
        report, run = self.sync()
        moved_only_new = run is not None and run.queued == len(added) and int(
            report.get("new", 0)) == len(added)
        ok = moved_only_new and run is not None and run.failed == 0 and run.completed == len(added)
        listed = int(report.get("listed", 0))
        self.steps.append(Step(
            "second sync",
            f"only the {len(added)} new media moved; {listed - len(added)} archived ones untouched",
            f"{run.completed}/{run.queued}" if run else "0",
            human_bytes(run.bytes) if run else "-", ok,
        ))

    def pick_for_resync(self) -> MediaRow:
        assert self.ctx is not None
        rows = completed_rows(self.ctx)
        if not rows:
            raise RuntimeError("nothing is archived, so nothing can be re-synced")
        videos = [r for r in rows if len(r.objects) > 1 and (r.media_type or "") == "Video"]
        pool = videos or rows
        return min(pool, key=lambda r: r.bytes_archived)

    def resync_one(self) -> None:
        assert self.ctx is not None
        self.heading(4, "Archiving one medium again (resync)")
        row = self.pick_for_resync()
        before = {o["key"]: o.get("version_id") for o in row.objects}
        self.say(f"Re-syncing {row.media_id} ({row.filename}, {len(row.objects)} objects); S3 "
                 "keeps the old versions.")
        run_id, queued = resync(self.ctx, PROVIDER, [row])
        run = self.follow(run_id, len(queued))
        self.say(self.run_line(run))
        after_row = self.ctx.tracker.get(PROVIDER, row.media_id)
        after = {o["key"]: o.get("version_id") for o in (after_row.objects if after_row else [])}
        new_versions = [k for k in before if k in after and after[k] != before[k]]
        versions = self.versions(next(iter(before))) if before else 0
        ok = (run is not None and run.failed == 0 and run.completed == 1
              and len(new_versions) == len(before) and set(after) == set(before))
        self.say(f"{len(new_versions)} of {len(before)} objects now have a new version "
                 f"(e.g. {versions} versions of {next(iter(before), '-')}).")
        self.steps.append(Step(
            "resync one medium",
            f"{row.filename} archived again: {len(new_versions)} new object versions",
            f"{run.completed}/{run.queued}" if run else "0",
            human_bytes(run.bytes) if run else "-", ok,
        ))

    def versions(self, key: str) -> int:
        assert self.ctx is not None
        answer = self.ctx.aws.s3().list_object_versions(Bucket=self.ctx.outputs.bucket,
                                                        Prefix=key)
        return sum(1 for v in answer.get("Versions", []) if v.get("Key") == key)

    # --- checking ------------------------------------------------------------------------

    def verify(self) -> None:
        assert self.ctx is not None
        self.heading(5, "Verifying the archive")
        checks = verify_rows(self.ctx, completed_rows(self.ctx))
        self.example_keys = self.examples()
        bad = [c for c in checks if not c.ok]
        objects = sum(c.objects for c in checks)
        total = sum(c.bytes for c in checks)
        for c in bad:
            self.say(f"  {c.media_id}: {'; '.join(c.problems)}")
        self.say(f"S3 check: {len(checks) - len(bad)} of {len(checks)} media OK ({objects} "
                 "objects: present, recorded version, size and CRC32).")
        self.steps.append(Step(
            "verify (cloudsync verify)",
            f"{objects} objects in S3: recorded version, size, CRC32",
            f"{len(checks) - len(bad)}/{len(checks)}", human_bytes(total), not bad,
        ))

        self.read_back(completed_rows(self.ctx))
        source = self.compare_with_source()
        self.say(f"Source check: {source[0]} of {source[1]} simulated media archived with "
                 "exactly their original files' sizes and checksums.")
        self.steps.append(Step(
            "compare with the source",
            "archive = the originals at GoPro (sizes, CRC32s)",
            f"{source[0]}/{source[1]}", "-", source[0] == source[1],
        ))

    def read_back(self, rows: list[MediaRow]) -> None:
        """``verify --read-data``: every object read back by the stack's verify function."""
        assert self.ctx is not None
        results, tally = read_all(self.ctx, jobs_of(rows), parallel=4)
        for line in summary_lines(results, tally):
            self.say(line)
        good = sum(1 for r in results if r["state"] == OK)
        self.steps.append(Step(
            "read back (verify --read-data)",
            "every object read again, CRC32 and GoPro's checksum recomputed",
            f"{good}/{len(results)}", human_bytes(tally.bytes_read),
            bool(results) and good == len(results),
        ))

    def compare_with_source(self) -> tuple[int, int]:
        assert self.sim is not None and self.ctx is not None
        lib = self.sim.library
        wanted = [m for m in lib.ids() if lib.get(m).item.get("id") == m]
        rows = self.ctx.tracker.get_many(PROVIDER, wanted)
        good = 0
        for media_id in wanted:
            row = rows.get(media_id)
            if row is None or row.status != COMPLETED:
                self.say(f"  {media_id}: not archived ({row.status if row else 'unknown'})")
                continue
            expected = Counter((f.size, _crc_b64(f.crc32())) for f in lib.originals(media_id))
            got = Counter((int(o.get("size", -1)), str(o.get("crc32"))) for o in row.objects)
            if expected == got:
                good += 1
            else:
                self.say(f"  {media_id}: archived objects differ from the originals")
        return good, len(wanted)

    def faults_line(self) -> str:
        assert self.sim is not None
        words = {
            "rate_limit": "429 Too Many Requests", "error": "503", "reset": "dropped connection"
        }
        fired = [f"{words.get(f.kind, f.kind)} x{f.hits}" for f in self.sim.faults.all() if f.hits]
        return ", ".join(fired) if fired else "none fired"

    def examples(self) -> list[str]:
        """Archive keys of media sharing a camera file name."""
        assert self.ctx is not None
        keys: list[str] = []
        for row in completed_rows(self.ctx):
            if row.filename in self.collisions:
                keys.extend(str(o["key"]) for o in row.objects)
        return sorted(keys)[:4]

    # --- the end -------------------------------------------------------------------------

    def summary(self, failure: str | None) -> bool:
        ok = failure is None and bool(self.steps) and all(s.ok for s in self.steps)
        self.say()
        self.say("=" * 78)
        self.say("Summary")
        self.say("=" * 78)
        if self.steps:
            self.say(table(
                ["step", "what happened", "media", "bytes", "result"],
                [(s.name, s.what + (f" ({s.note})" if s.note else ""), s.media, s.bytes,
                  "OK" if s.ok else "FAILED") for s in self.steps],
                right=[2, 3],
            ))
        self.say()
        if self.sim is not None:
            self.say(f"Faults the simulated GoPro cloud injected, all ridden out: "
                     f"{self.faults_line()}.")
        if self.ctx is not None and self.ctx._outputs is not None:
            bucket = self.ctx.outputs.bucket
            self.say(f"Where the objects are: s3://{bucket}/gopro-videos/<year>/<month>/"
                     "<media id>/<original file name>")
            self.say("  (one object per original file: video chapters, burst frames and RAW "
                     "files each get their own; the media id keeps same-named files apart)")
            for key in self.example_keys:
                self.say(f"  e.g. {key}")
            self.say("  This archive lived in the demo's local cloud and is gone now; with a "
                     "deployed stack it is your own S3 bucket, moving to Deep Archive.")
        self.say(f"Logs of the functions and the local cloud: {self.log_path}")
        self.say()
        if ok:
            self.say("RESULT: all good. Every simulated medium was archived and verified.")
            self.say("Next: `cloudsync local up` runs the stack for you to try the commands "
                     "(cloudsync --help).")
        else:
            self.say(f"RESULT: FAILED{f' ({failure})' if failure else ''}; see the log above.")
        return ok

    def stop(self) -> None:
        if self.cloud is not None:
            with contextlib.suppress(Exception):
                self.cloud.stop()
        if self.sim is not None:
            with contextlib.suppress(Exception):
                self.sim.stop()


def _crc_b64(value: int) -> str:
    return base64.b64encode(value.to_bytes(4, "big")).decode("ascii")


@contextlib.contextmanager
def _demo_environment() -> Iterator[None]:
    """Quieter handlers for the demo (their logs go to the file anyway)."""
    wanted = {"POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_TRACE_DISABLED": "true"}
    saved = {k: os.environ.get(k) for k in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run(args: argparse.Namespace, ctx: Context | None = None) -> int:
    started = time.monotonic()
    log_dir = Path(tempfile.mkdtemp(prefix="cloudsync-demo-"))
    log_path = log_dir / "demo.log"
    with _demo_environment(), quiet_output(log_path) as screen:
        demo = Demo(screen.out, screen.err, log_path, as_json=bool(args.json))
        demo.say("cloudsync demo: a GoPro library archived into S3, all on this machine.")
        failure: str | None = None
        try:
            demo.start()
            demo.login()
            demo.first_sync()
            demo.second_sync()
            demo.resync_one()
            demo.verify()
        except (Exception, KeyboardInterrupt) as e:  # noqa: BLE001 - reported, then summarised
            url = demo.ctx.target.endpoint_url if demo.ctx else None
            failure = describe(e, url)[0]
            import traceback

            traceback.print_exc()  # into the log file
            demo.say(f"\nThe demo stopped: {failure}")
        finally:
            demo.stop()
        ok = demo.summary(failure)
        demo.say(f"(took {time.monotonic() - started:.0f} s)")
        if demo.as_json:
            screen.out.write(to_json(demo.document(ok, failure, time.monotonic() - started))
                             + "\n")
    return EXIT_OK if ok else EXIT_FAILED
