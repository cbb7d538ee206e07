"""Builds the Lambda bundle from ``functions/``: our code, and a layer of dependencies for arm64.

Two directories, as Lambda lays them out at run time:

- ``code/``: the packages under ``functions/`` (``cloudsync_core``, ``cloudsync_handlers``, ...),
  mounted at ``/var/task``;
- ``layer/python/``: ``functions/requirements.txt`` installed from manylinux2014 aarch64 wheels for
  CPython 3.12 (binary wheels only, never built on this machine), mounted at ``/opt/python``.

The build is deterministic (sorted copies, no byte code, no console scripts) and cached under
``build/lambda/<hash of every input>``: a second ``pulumi up`` with unchanged inputs reuses it, and
a change to any source file, the requirements or the pip command builds anew. Builds go to a
temporary directory that is renamed into place, so concurrent builds never see half a bundle.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR: Final = REPO_ROOT / "functions"
BUILD_ROOT: Final = REPO_ROOT / "build" / "lambda"
PLATFORM: Final = "manylinux2014_aarch64"
PYTHON_VERSION: Final = "3.12"
BUNDLE_FORMAT: Final = "1"  # bump when the layout below changes
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


def pip_command(requirements: Path, target: Path) -> list[str]:
    return [
        sys.executable, "-m", "pip", "install",
        "--platform", PLATFORM,
        "--only-binary=:all:",
        "--python-version", PYTHON_VERSION,
        "--implementation", "cp",
        "--no-compile",
        "--no-input",
        "--disable-pip-version-check",
        "-r", str(requirements),
        "--target", str(target),
    ]


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
    requirements = functions_dir / "requirements.txt"
    digest = hashlib.sha256()
    digest.update(f"format={BUNDLE_FORMAT};platform={PLATFORM};python={PYTHON_VERSION}\n".encode())
    digest.update(" ".join(pip_command(Path("requirements.txt"), Path("target"))[3:]).encode())
    digest.update(b"\0requirements\0" + requirements.read_bytes())
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
        pip_command(functions_dir / "requirements.txt", layer),
        capture_output=True, text=True, env=env, check=False,
    )
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise BundleError(
            f"pip could not install {functions_dir / 'requirements.txt'} for {PLATFORM} / "
            f"CPython {PYTHON_VERSION} (binary wheels only):\n{tail}"
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
    if not (functions_dir / "requirements.txt").is_file():
        raise BundleError(f"{functions_dir / 'requirements.txt'} is missing")
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


def main() -> None:
    bundle = build()
    print(bundle.root)


if __name__ == "__main__":
    main()
