"""The error tree is drawn once, in ``errors.py``'s docstring, and the drawing is the truth:
every class the module defines is drawn under its real parent, nothing else is drawn, and no
other module of the Lambda package defines an error class of its own."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

from cloudsync_core import errors
from cloudsync_core.errors import CloudSyncError

FUNCTIONS = Path(errors.__file__).resolve().parents[1]
_DRAWN = re.compile(r"^(?P<lead>[ │├└─]*)(?P<name>[A-Z]\w*Error)\s*$")


def drawn_tree(doc: str) -> dict[str, str | None]:
    """Each class name in the docstring's drawing, with the name drawn as its parent."""
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []  # (column of the name, name) of the open ancestors
    for line in doc.splitlines():
        m = _DRAWN.match(line)
        if not m:
            continue
        column = len(m.group("lead"))
        while stack and stack[-1][0] >= column:
            stack.pop()
        name = m.group("name")
        assert name not in parents, f"{name} is drawn twice"
        parents[name] = stack[-1][1] if stack else None
        stack.append((column, name))
    return parents


def defined_tree() -> dict[str, str | None]:
    """Each error class ``errors.py`` defines, with its parent (None for the root)."""
    out: dict[str, str | None] = {}
    for name, cls in vars(errors).items():
        if inspect.isclass(cls) and issubclass(cls, BaseException) and (
            cls.__module__ == errors.__name__
        ):
            parent = cls.__bases__[0]
            out[name] = None if cls is CloudSyncError else parent.__name__
    return out


def test_the_drawing_lists_exactly_the_classes_under_their_parents() -> None:
    assert errors.__doc__
    assert drawn_tree(errors.__doc__) == defined_tree()


def test_a_class_left_out_of_the_drawing_is_caught() -> None:
    assert errors.__doc__
    doc = errors.__doc__.replace("        ├── BadEventError\n", "")
    assert drawn_tree(doc) != defined_tree()


def test_a_class_drawn_under_the_wrong_parent_is_caught() -> None:
    assert errors.__doc__
    doc = errors.__doc__.replace("    │   └── SourceStalledError", "    ├── SourceStalledError")
    assert drawn_tree(doc) != defined_tree()


def _stray_error_classes(root: Path) -> list[str]:
    stray: list[str] = []
    for path in sorted(root.rglob("*.py")):
        if path.resolve() == Path(errors.__file__).resolve():
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = [ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases]
            if any(b.endswith(("Error", "Exception")) for b in bases):
                stray.append(f"{path.relative_to(root)}:{node.lineno} {node.name}")
    return stray


def test_no_module_but_errors_py_defines_an_error_class() -> None:
    assert _stray_error_classes(FUNCTIONS) == []


def test_the_stray_check_finds_a_stray(tmp_path: Path) -> None:
    (tmp_path / "events.py").write_text(
        "from .errors import PermanentError\n\n\nclass BadEventError(PermanentError):\n    pass\n"
    )
    assert _stray_error_classes(tmp_path) == ["events.py:4 BadEventError"]

