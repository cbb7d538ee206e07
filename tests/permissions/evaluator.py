"""Runs ``node/evaluate.mjs`` (``@cloud-copilot/iam-simulate``, pinned in node/package-lock.json).

``install()`` runs ``npm ci`` into the gitignored ``node/node_modules`` when the pinned simulator
is not there yet; ``judge()`` sends a whole batch of requests and policies to one node process.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NODE_DIR = Path(__file__).resolve().parent / "node"
SIMULATOR = "@cloud-copilot/iam-simulate"
INSTALL_TIMEOUT_S = 300
JUDGE_TIMEOUT_S = 120


@dataclass(frozen=True)
class Verdict:
    result: str  # Allowed, ExplicitlyDenied, ImplicitlyDenied, Error
    deciding: list[dict[str, str]]  # the statements that decided: policy, sid, effect
    errors: Any
    ignored_context_keys: list[str]

    def sids(self) -> set[str]:
        return {d["sid"] for d in self.deciding}

    def explain(self) -> str:
        if self.result == "Error":
            return f"Error: {json.dumps(self.errors)}"
        if not self.deciding:
            return f"{self.result}: no statement allows it"
        return f"{self.result} by " + ", ".join(
            f"{d['policy']}:{d['sid']}" for d in self.deciding)


def pinned_version() -> str:
    manifest = json.loads((NODE_DIR / "package.json").read_text(encoding="utf-8"))
    return str(manifest["dependencies"][SIMULATOR])


def install() -> None:
    """``npm ci`` (exact versions and hashes of package-lock.json) unless already installed."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"the permissions layer needs Node.js: {tool} is not on PATH")
    installed = NODE_DIR / "node_modules" / SIMULATOR / "package.json"
    if installed.is_file():
        version = json.loads(installed.read_text(encoding="utf-8")).get("version")
        if version == pinned_version():
            return
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=NODE_DIR, check=True, timeout=INSTALL_TIMEOUT_S,
    )


def judge(policies: Mapping[str, Any], requests: Sequence[Mapping[str, Any]]) -> list[Verdict]:
    """One verdict per request, in order."""
    answer = subprocess.run(
        ["node", str(NODE_DIR / "evaluate.mjs")],
        input=json.dumps({"policies": policies, "requests": list(requests)}),
        capture_output=True, text=True, check=True, timeout=JUDGE_TIMEOUT_S, cwd=NODE_DIR,
    )
    raw = json.loads(answer.stdout)
    assert [r["id"] for r in raw] == [r["id"] for r in requests]
    return [Verdict(r["result"], r["deciding"], r.get("errors"), r.get("ignoredContextKeys", []))
            for r in raw]
