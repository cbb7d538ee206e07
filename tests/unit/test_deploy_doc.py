"""DEPLOY.md and README.md hold only commands that exist: every `cloudsync ...` in their code
(blocks and inline spans) parses with the CLI's own argparse parser, and every
`pulumi config set|rm KEY` names a key of the stack config schema (components/config.py)."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from cloudsync_cli.main import parse
from components.config import KEYS, NAMESPACE

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "docs" / "DEPLOY.md", ROOT / "README.md")
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
INLINE = re.compile(r"(?<!`)`((?:cloudsync|pulumi config) [^`\n]+)`(?!`)")
SEPARATORS = {"|", "||", "&&", ";", "&"}
PLACEHOLDER = "..."  # prose shorthand: "some value here"


def snippets(text: str) -> list[str]:
    """Every logical shell line of the code blocks, and every inline command span."""
    lines: list[str] = []
    for block in FENCE.findall(text):
        pending = ""
        for raw in block.splitlines():
            line = raw.strip()
            if line.startswith("$ "):
                line = line[2:]
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            pending += line
            if pending.rstrip().endswith(("|", "&&")):
                pending += " "
                continue
            lines.append(pending)
            pending = ""
        if pending:
            lines.append(pending)
    without_blocks = FENCE.sub("", text)
    return lines + INLINE.findall(without_blocks)


def commands(line: str) -> list[list[str]]:
    """The simple commands of one shell line (split at pipes, &&, ;), comments dropped."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        tokens = list(lexer)
    except ValueError:  # unbalanced quotes in prose: not a command
        return []
    found: list[list[str]] = [[]]
    for token in tokens:
        if token in SEPARATORS:
            found.append([])
        else:
            found[-1].append(token)
    return [c for c in found if c]


def doc_commands(text: str) -> tuple[list[list[str]], list[list[str]]]:
    """(cloudsync argv lists, pulumi config argv lists) in ``text``."""
    cli: list[list[str]] = []
    config: list[list[str]] = []
    for line in snippets(text):
        for argv in commands(line):
            if argv[0] == "cloudsync":
                cli.append(argv[1:])
            elif argv[:2] == ["pulumi", "config"] and len(argv) > 2 and argv[2] in ("set", "rm"):
                config.append(argv[3:])
    return cli, config


def cli_problem(argv: list[str]) -> str | None:
    """Why the CLI's parser refuses ``argv`` (None: it parses)."""
    cleaned = [t for i, t in enumerate(argv)
               if t != PLACEHOLDER or (i > 0 and argv[i - 1].startswith("-"))]
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            parse(cleaned)
    except SystemExit as e:
        if e.code not in (0, None):
            return err.getvalue().strip().splitlines()[-1]
    return None


def config_key(argv: list[str]) -> str | None:
    """The schema key a `pulumi config set|rm` names (None: not a cloudsync key)."""
    words = iter(argv)
    for word in words:
        if word in ("-s", "--stack", "--config-file"):
            next(words, None)
            continue
        if word.startswith("-"):
            continue
        namespace, _, name = word.rpartition(":")
        if namespace and namespace != NAMESPACE:
            return None  # aws:region and other providers' keys
        return re.split(r"[.\[]", name, maxsplit=1)[0]
    return None


def config_problem(argv: list[str]) -> str | None:
    key = config_key(argv)
    if key is None or key in KEYS:
        return None
    return f"{key!r} is not a stack config key (components/config.py KEYS)"


def _all() -> tuple[list[tuple[str, list[str]]], list[tuple[str, list[str]]]]:
    cli: list[tuple[str, list[str]]] = []
    config: list[tuple[str, list[str]]] = []
    for doc in DOCS:
        found_cli, found_config = doc_commands(doc.read_text(encoding="utf-8"))
        cli += [(doc.name, argv) for argv in found_cli]
        config += [(doc.name, argv) for argv in found_config]
    return cli, config


CLI, CONFIG = _all()


def test_the_docs_hold_the_commands_a_user_types() -> None:
    deploy = [argv for doc, argv in CLI if doc == "DEPLOY.md"]
    assert len(deploy) >= 10 and len(CONFIG) >= 5
    verbs = {argv[0] for argv in deploy}
    assert {"login", "doctor", "library", "sync"} <= verbs
    modes = {flag for argv in deploy for flag in argv if flag.startswith("--")}
    assert {"--password-stdin", "--cookie-token", "--user-id"} <= modes


@pytest.mark.parametrize(("doc", "argv"), CLI, ids=[f"{d}:{' '.join(a)}" for d, a in CLI])
def test_every_cloudsync_command_in_the_docs_exists(doc: str, argv: list[str]) -> None:
    assert cli_problem(argv) is None, f"{doc}: cloudsync {' '.join(argv)}: {cli_problem(argv)}"


@pytest.mark.parametrize(("doc", "argv"), CONFIG, ids=[f"{d}:{' '.join(a)}" for d, a in CONFIG])
def test_every_pulumi_config_key_in_the_docs_exists(doc: str, argv: list[str]) -> None:
    assert config_problem(argv) is None, f"{doc}: pulumi config {' '.join(argv)}"


def test_a_made_up_flag_command_or_key_is_caught() -> None:
    text = """
```bash
cloudsync login --username U --password-stdin --remember-me   # a flag that does not exist
cloudsync synchronise --wait
pulumi config set --path 'maxConcurentMedia' 3
```
and inline `cloudsync sync --wiat` too.
"""
    cli, config = doc_commands(text)
    assert [cli_problem(argv) is not None for argv in cli] == [True, True, True]
    assert "--remember-me" in (cli_problem(cli[0]) or "")
    assert [config_problem(argv) is not None for argv in config] == [True]


def test_real_shapes_parse() -> None:
    text = """
```bash
printf '%s\\n' "$T" |
  cloudsync --stack prod login --cookie-token - --user-id U && cloudsync doctor --json
pulumi config set aws:region eu-central-1
pulumi config set cloudsync:alertEmail you@example.com
```
"""
    cli, config = doc_commands(text)
    assert cli == [["--stack", "prod", "login", "--cookie-token", "-", "--user-id", "U"],
                   ["doctor", "--json"]]
    assert all(cli_problem(argv) is None for argv in cli)
    assert [config_key(argv) for argv in config] == [None, "alertEmail"]
