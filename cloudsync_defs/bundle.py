"""Builds the Lambda bundle from ``functions/``: our code, and a layer of dependencies for arm64.

Two directories, as Lambda lays them out at run time:

- ``code/``: the packages under ``functions/`` (``cloudsync_core``, ``cloudsync_handlers``, ...),
  mounted at ``/var/task``;
- ``layer/python/``: ``functions/requirements.lock`` installed from aarch64 manylinux wheels for
  CPython 3.12 (binary wheels only, never built on this machine), mounted at ``/opt/python``.

The lock pins every package of the layer, dependencies included, to one version and the sha256 of
its wheel, and pip installs it with ``--require-hashes``: a new machine ships the very bytes this
one did, or fails. ``functions/requirements.txt`` says what we want (ranges); the lock is
regenerated from it with ``python -m cloudsync_defs.bundle lock`` (pip's resolver, for the same
platform tags, with a network), and ``build`` refuses a lock that no longer covers it. Lambda's
python3.12 runs on Amazon Linux 2023 (glibc 2.34): wheels tagged manylinux2014 or manylinux_2_17
to manylinux_2_34 for aarch64 all run there, and pip accepts them all.

The build is deterministic (sorted copies, no byte code, no console scripts) and cached under
``build/lambda/<hash of every input>``: a second ``pulumi up`` with unchanged inputs reuses it, and
a change to any source file, the requirements or the pip command builds anew. Builds go to a
temporary directory that is renamed into place, so concurrent builds never see half a bundle.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR: Final = REPO_ROOT / "functions"
BUILD_ROOT: Final = REPO_ROOT / "build" / "lambda"
REQUIREMENTS: Final = "requirements.txt"
LOCK: Final = "requirements.lock"
GLIBC_MINORS: Final = range(34, 16, -1)  # Amazon Linux 2023's glibc 2.34 down to manylinux2014's
PLATFORMS: Final[tuple[str, ...]] = (
    *(f"manylinux_2_{minor}_aarch64" for minor in GLIBC_MINORS),
    "manylinux2014_aarch64",
)
PYTHON_VERSION: Final = "3.12"
BUNDLE_FORMAT: Final = "2"  # bump when the layout below changes
PIP_TIMEOUT_S: Final = 600
KEEP_BUILDS: Final = 4
SKIP_NAMES: Final = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
SKIP_SUFFIXES: Final = (".pyc", ".pyo")


class BundleError(RuntimeError):
    """The bundle could not be built (a missing wheel, no pip, an unreadable source)."""


@dataclass(frozen=True)
class Bundle:
    root: Path
    code_dir: Path  # -> /var/task
    layer_dir: Path  # contains python/ -> /opt/python
    digest: str

    @property
    def layer_python_dir(self) -> Path:
        return self.layer_dir / "python"


def _target_options() -> list[str]:
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    return [
        *platforms,
        "--only-binary=:all:",
        "--python-version", PYTHON_VERSION,
        "--implementation", "cp",
        "--no-input",
        "--disable-pip-version-check",
    ]


def pip_command(lock: Path, target: Path) -> list[str]:
    """Installs the hash-pinned lock (every package, dependencies too) for Lambda's platform."""
    return [
        sys.executable, "-m", "pip", "install",
        *_target_options(),
        "--require-hashes",
        "--no-compile",
        "-r", str(lock),
        "--target", str(target),
    ]


def lock_command(requirements: Path, report: Path, scratch: Path) -> list[str]:
    """Resolves requirements.txt for Lambda's platform without installing: pip's JSON report."""
    return [
        sys.executable, "-m", "pip", "install",
        *_target_options(),
        "--dry-run", "--ignore-installed", "--quiet",
        "--report", str(report),
        "-r", str(requirements),
        "--target", str(scratch),
    ]


def _lock_entries(lock_text: str) -> dict[str, tuple[str, list[str]]]:
    """Canonical name -> (pinned version, hashes) of a lock file."""
    entries: dict[str, tuple[str, list[str]]] = {}
    logical = lock_text.replace("\\\n", " ")
    for line in logical.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        spec, *hashes = line.split(" --hash=")
        name, _, version = spec.strip().partition("==")
        entries[canonicalize_name(name)] = (version.strip(), [h.strip() for h in hashes])
    return entries


def lock_problems(requirements_text: str, lock_text: str) -> list[str]:
    """What makes the lock unfit for requirements.txt: missing, unpinned, unhashed, out of range."""
    locked = _lock_entries(lock_text)
    problems: list[str] = []
    for name, (version, hashes) in sorted(locked.items()):
        if not version or not hashes or not all(h.startswith("sha256:") for h in hashes):
            problems.append(f"{name}: not pinned (==) with sha256 hashes")
    for line in requirements_text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            wanted = Requirement(line)
        except InvalidRequirement as e:
            problems.append(f"requirements.txt: {line!r}: {e}")
            continue
        key = canonicalize_name(wanted.name)
        if key not in locked:
            problems.append(f"{wanted.name}: in requirements.txt, not in the lock")
        elif not wanted.specifier.contains(locked[key][0], prereleases=True):
            problems.append(f"{wanted.name}: locked {locked[key][0]}, "
                            f"requirements.txt wants {wanted.specifier}")
    return problems


def render_lock(report: dict[str, Any]) -> str:
    """The lock file's text from pip's installation report (one wheel per package)."""
    lines = [
        "# Generated by `python -m cloudsync_defs.bundle lock` from requirements.txt for",
        f"# CPython {PYTHON_VERSION} on aarch64 manylinux (Lambda arm64); installed with "
        "--require-hashes.",
        "# Do not edit by hand: change requirements.txt and regenerate.",
    ]
    for item in sorted(report["install"], key=lambda i: canonicalize_name(i["metadata"]["name"])):
        info = item["download_info"]
        digest = info["archive_info"]["hashes"]["sha256"]
        wheel = info["url"].rsplit("/", 1)[-1]
        lines.append(f"{canonicalize_name(item['metadata']['name'])}=="
                     f"{item['metadata']['version']} \\")
        lines.append(f"    --hash=sha256:{digest}")
        lines.append(f"    # {wheel}")
    return "\n".join(lines) + "\n"


def write_lock(functions_dir: Path = FUNCTIONS_DIR) -> Path:
    """Resolves requirements.txt (network) and writes the lock beside it."""
    with tempfile.TemporaryDirectory(prefix="cloudsync-lock-") as scratch:
        report_path = Path(scratch) / "report.json"
        result = subprocess.run(  # noqa: S603 - a fixed pip command line
            lock_command(functions_dir / REQUIREMENTS, report_path, Path(scratch) / "target"),
            capture_output=True, text=True, check=False, timeout=PIP_TIMEOUT_S,
        )
        if result.returncode != 0:
            raise BundleError(f"pip could not resolve {functions_dir / REQUIREMENTS}:\n"
                              f"{result.stderr.strip()[-2000:]}")
        report = json.loads(report_path.read_text(encoding="utf-8"))
    lock = functions_dir / LOCK
    lock.write_text(render_lock(report), encoding="utf-8")
    return lock


def _source_files(functions_dir: Path) -> list[Path]:
    """The files of every package under ``functions/`` (folders with an ``__init__.py``)."""
    files: list[Path] = []
    for package in sorted(p for p in functions_dir.iterdir() if (p / "__init__.py").is_file()):
        for path in sorted(package.rglob("*")):
            rel = path.relative_to(functions_dir)
            if any(part in SKIP_NAMES for part in rel.parts) or path.suffix in SKIP_SUFFIXES:
                continue
            if path.is_file():
                files.append(path)
    return files


def inputs_digest(functions_dir: Path = FUNCTIONS_DIR) -> str:
    """A hash of everything that goes into the bundle."""
    digest = hashlib.sha256()
    digest.update(f"format={BUNDLE_FORMAT};python={PYTHON_VERSION}\n".encode())
    digest.update(" ".join(pip_command(Path(LOCK), Path("target"))[3:]).encode())
    digest.update(b"\0lock\0" + (functions_dir / LOCK).read_bytes())
    for path in _source_files(functions_dir):
        digest.update(b"\0" + path.relative_to(functions_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def _prune(target: Path) -> None:
    """Drop what pip leaves that Lambda never runs and that would make the bundle differ."""
    shutil.rmtree(target / "bin", ignore_errors=True)
    for cache in sorted(target.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache, ignore_errors=True)
    for record in target.glob("*.dist-info/RECORD"):
        record.unlink()  # lists absolute script paths and hashes of files we removed
    for stray in target.glob("*.dist-info/direct_url.json"):
        stray.unlink()


def _build(functions_dir: Path, into: Path) -> None:
    code = into / "code"
    layer = into / "layer" / "python"
    code.mkdir(parents=True)
    layer.mkdir(parents=True)
    for path in _source_files(functions_dir):
        dest = code / path.relative_to(functions_dir)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PIP_NO_COLOR": "1"}
    result = subprocess.run(  # noqa: S603 - a fixed pip command line
        pip_command(functions_dir / LOCK, layer),
        capture_output=True, text=True, env=env, check=False, timeout=PIP_TIMEOUT_S,
    )
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise BundleError(
            f"pip could not install {functions_dir / LOCK} for aarch64 manylinux / "
            f"CPython {PYTHON_VERSION} (binary wheels, hashes required):\n{tail}"
        )
    _prune(layer)


def _prune_old_builds(build_root: Path, keep: Path) -> None:
    """Keep the newest few bundles (another process may still be deploying one of them)."""
    done = [p for p in build_root.iterdir() if (p / ".complete").is_file() and p != keep]
    done.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for old in done[KEEP_BUILDS - 1:]:
        shutil.rmtree(old, ignore_errors=True)


def build(functions_dir: Path = FUNCTIONS_DIR, build_root: Path = BUILD_ROOT) -> Bundle:
    """The bundle for the current sources, built once per distinct input."""
    for needed in (REQUIREMENTS, LOCK):
        if not (functions_dir / needed).is_file():
            raise BundleError(f"{functions_dir / needed} is missing")
    stale = lock_problems((functions_dir / REQUIREMENTS).read_text(encoding="utf-8"),
                          (functions_dir / LOCK).read_text(encoding="utf-8"))
    if stale:
        raise BundleError(f"{functions_dir / LOCK} does not fit {REQUIREMENTS} "
                          f"(regenerate: python -m cloudsync_defs.bundle lock): "
                          + "; ".join(stale))
    digest = inputs_digest(functions_dir)
    root = build_root / digest
    done = root / ".complete"
    if not done.is_file():
        build_root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{digest}-", dir=build_root))
        try:
            _build(functions_dir, staging)
            (staging / ".complete").write_text(digest + "\n", encoding="utf-8")
            try:
                staging.rename(root)
            except OSError:
                if not done.is_file():  # another build won the race only if it finished
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        _prune_old_builds(build_root, keep=root)
    return Bundle(root=root, code_dir=root / "code", layer_dir=root / "layer", digest=digest)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m cloudsync_defs.bundle",
                                     description="build the Lambda bundle, or re-lock its layer")
    parser.add_argument("command", nargs="?", choices=("build", "lock"), default="build")
    if parser.parse_args(argv).command == "lock":
        print(write_lock())
    else:
        print(build().root)


if __name__ == "__main__":
    main()
