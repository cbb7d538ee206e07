"""The tracker is one class made of stores: each method is written in exactly one store."""

from __future__ import annotations

import inspect

from cloudsync_core.tracker import Tracker
from cloudsync_core.tracker.table import TableAccess


def _own_methods(cls: type) -> set[str]:
    return {name for name, value in vars(cls).items() if inspect.isfunction(value)}


def test_no_two_stores_define_the_same_method() -> None:
    stores = [c for c in Tracker.__mro__ if issubclass(c, TableAccess) and c is not TableAccess]
    seen: dict[str, str] = {}
    clashes = []
    for store in stores:
        for name in _own_methods(store) - {"__init__"}:
            if name in seen:
                clashes.append(f"{name}: {seen[name]} and {store.__name__}")
            seen[name] = store.__name__
    assert not clashes, clashes


def test_the_front_adds_no_method_of_its_own() -> None:
    assert _own_methods(Tracker) == set()


def test_every_store_is_part_of_the_front() -> None:
    names = {c.__name__ for c in Tracker.__mro__}
    assert {"MediaStore", "ClaimedStore", "RunStore", "SlotStore", "ControlStore"} <= names
