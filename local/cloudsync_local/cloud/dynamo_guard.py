"""A guard around moto's DynamoDB: transactions that fail must not undo other writes or the stream.

moto 5.2.x runs ``TransactWriteItems`` by deep-copying every table the transaction touches,
applying the items one by one and, when one fails its condition, putting the copies back in
place of the live tables (``DynamoDBBackend.transact_write_items``). moto's server is threaded
and its backend takes no lock, so two faults follow, both moto's:

- writes that other threads made between the copy and the restore are undone, although they were
  acknowledged (882 of 900 survived in one measurement);
- the copy carries a deep copy of the table's stream shard: every shard iterator handed out before
  keeps reading the old shard object, which nothing writes to any more. A stream reader sees no
  further record, ever, and nothing says so. Even a single thread shows it
  (``tests/e2e/moto_rollback_repro.py``).

The guard, installed by the local cloud in its own process (where moto's server runs): one
re-entrant lock serialises moto's DynamoDB data operations and stream reads (so no write lands
during a transaction, and nobody reads a half-applied one). Inside a transaction the table is not
deep-copied at all (a copy costs O(table) under that lock, every finishing medium): the guard
keeps a copy of just the items the transaction touches and, when moto rolls back, puts those
back, then drops the stream records of the rolled-back writes. The table object, and with it the
stream shard readers hold, is never replaced.
"""

from __future__ import annotations

import copy
import functools
import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("cloudsync_local.cloud")

_DATA_OPERATIONS = (
    "put_item", "get_item", "update_item", "delete_item", "query", "scan",
    "batch_get_item", "batch_write_item", "transact_get_items", "execute_statement",
    "execute_transaction", "batch_execute_statement",
)
_STREAM_OPERATIONS = ("get_shard_iterator", "get_records", "describe_stream")

lock = threading.RLock()
_originals: dict[tuple[type, str], Callable[..., Any]] = {}
_install_lock = threading.Lock()
rollbacks = 0  # transactions moto rolled back since install (each kept its stream shard)


def _locked(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return original(self, *args, **kwargs)

    return call


_in_transaction = threading.local()


def _table_deepcopy(self: Any, memo: dict[int, Any]) -> Any:
    """moto's pre-transaction copy of a table: the table itself (the guard keeps its own copy
    of the touched items); any other deep copy as usual."""
    if getattr(_in_transaction, "active", False):
        return self
    return copy._reconstruct(self, memo, *self.__reduce_ex__(4))  # type: ignore[attr-defined]


def _target(backend: Any, entry: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(table name, key) of one TransactItems entry."""
    op_type, op = next(iter(entry.items()))
    table_name = str(op["TableName"])
    if op_type != "Put":
        return table_name, dict(op["Key"])
    table = backend.get_table(table_name)
    attrs = op["Item"]
    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attrs[table.range_key_attr]
    return table_name, key


def _guarded_transaction(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        global rollbacks
        with lock:
            try:
                targets = [_target(self, entry) for entry in transact_items]
                saved = [(name, key, copy.deepcopy(self.get_item(name, key)))
                         for name, key in targets]
            except Exception:  # noqa: BLE001 - malformed: moto answers it, nothing to guard
                return original(self, transact_items)
            streams = {name: (t.stream_shard, len(t.stream_shard.items))
                       for name, t in self.tables.items() if t.stream_shard is not None}
            _in_transaction.active = True
            try:
                return original(self, transact_items)
            except Exception:
                _restore(self, saved)
                for shard, length in streams.values():
                    del shard.items[length:]  # the rolled-back writes never happened
                rollbacks += 1
                raise
            finally:
                _in_transaction.active = False

    return transact_write_items


def _restore(backend: Any, saved: list[tuple[str, dict[str, Any], Any]]) -> None:
    for name, key, item in saved:
        if item is None:
            if backend.get_item(name, key) is not None:
                backend.delete_item(name, key)
        else:
            backend.put_item(name, item.to_json()["Attributes"])


def install() -> None:
    """Guard moto's DynamoDB and DynamoDB Streams backends in this process (idempotent)."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend

    with _install_lock:
        if _originals:
            return
        for cls, names in (
            (DynamoDBBackend, _DATA_OPERATIONS),
            (DynamoDBStreamsBackend, _STREAM_OPERATIONS),
        ):
            for name in names:
                original = getattr(cls, name)
                _originals[(cls, name)] = original
                setattr(cls, name, _locked(original))
        original = DynamoDBBackend.transact_write_items
        _originals[(DynamoDBBackend, "transact_write_items")] = original
        setattr(DynamoDBBackend, "transact_write_items", _guarded_transaction(original))  # noqa: B010
        from moto.dynamodb.models.table import Table

        _originals[(Table, "__deepcopy__")] = _no_method
        setattr(Table, "__deepcopy__", _table_deepcopy)  # noqa: B010


def _no_method(*args: Any) -> Any:  # marks a method the class did not have
    raise AssertionError("never called")


def uninstall() -> None:
    """Put moto's own methods back."""
    with _install_lock:
        for (cls, name), original in _originals.items():
            if original is _no_method:
                delattr(cls, name)
            else:
                setattr(cls, name, original)
        _originals.clear()


def installed() -> bool:
    return bool(_originals)
