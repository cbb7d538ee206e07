"""Records every AWS request the system's code makes in the local cloud, and who makes it.

moto evaluates no IAM policy, so the local cloud alone cannot tell whether the deployed roles
allow what the code does. This log is the raw material for that check (tests/permissions): each
request with the principal that would sign it on AWS.

- **A function's role**: calls through the clients the handlers use (``services()``), made
  while the local cloud runs that function. The log builds that client set itself (the same
  ``Services.from_env()`` the handlers would build), hooks its clients, and knows which handler
  runs from a context variable set around each ``Dispatcher.call``; worker threads a handler
  starts (``ThreadPoolExecutor``) inherit it.
- **The workflow's role**: moto's Step Functions interpreter calls Lambda and DynamoDB through
  boto3's default session, signed with its fixed key ``ak``; those calls are its service
  integrations.
- **The stream mapping** (reading the stream with the starter's role): the local cloud's stream
  client (from its first request when the cloud starts inside :meth:`watching_stream_mapping`).
- **The scheduler's role**: each ``trigger_schedule`` (an async invoke of the lister).

Only identifiers are kept (bucket, key, table, ARNs, SSE settings): never a body, an item, a
token or a secret value.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, Final

import boto3

from cloudsync_core.services import Services, set_services

from .streams import StreamPlayer

if TYPE_CHECKING:
    from .app import LocalCloud

WORKFLOW: Final = "workflow"
SCHEDULER: Final = "scheduler"
STREAM_MAPPING: Final = "stream-mapping"
UNATTRIBUTED: Final = "unattributed"
FUNCTION_PREFIX: Final = "function:"
# moto's Step Functions interpreter signs its service integrations with this access key.
SFN_ACCESS_KEY: Final = "ak"

# The request parameters that identify what is touched and how (never a value or a body).
KEPT_PARAMS: Final = frozenset({
    "Bucket", "Key", "VersionId", "Prefix", "Delimiter", "ServerSideEncryption", "SSEKMSKeyId",
    "ChecksumMode", "IfNoneMatch", "TableName", "IndexName", "SecretId", "VersionStage",
    "MoveToVersionId", "RemoveFromVersionId", "TopicArn", "stateMachineArn", "FunctionName",
    "InvocationType", "StreamArn", "TableArn",
})
PRESENCE_PARAMS: Final = frozenset({"Tagging", "CopySource"})
# Keys this log keeps in botocore's per-request context between its hooks.
CONTEXT_INDEX: Final = "cloudsync_log_index"
CONTEXT_PARAMS: Final = "cloudsync_log_params"

_principal: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "cloudsync_principal", default=None
)


@dataclass(frozen=True)
class Call:
    """One AWS API request, as its caller made it."""

    principal: str  # "function:<logical>", "workflow", "scheduler", "stream-mapping"
    service: str  # botocore's service name: "s3", "dynamodb", "dynamodbstreams", ...
    operation: str  # the API operation: "UploadPart", "TransactWriteItems", ...
    params: Mapping[str, Any] = field(default_factory=dict)
    status: int | None = None  # the HTTP status AWS (here moto) answered, once known


def function_principal(logical: str) -> str:
    return f"{FUNCTION_PREFIX}{logical}"


def summarize(params: Mapping[str, Any]) -> dict[str, Any]:
    """The identifying parameters of a request; tables of batch and transaction requests."""
    kept: dict[str, Any] = {k: v for k, v in params.items() if k in KEPT_PARAMS}
    kept.update({k: True for k in params if k in PRESENCE_PARAMS})
    if isinstance(params.get("RequestItems"), Mapping):
        kept["RequestItems"] = {
            table: sorted(
                kind for request in (spec if isinstance(spec, list) else [])
                for kind in request
            ) or ["Get"]
            for table, spec in params["RequestItems"].items()
        }
    if isinstance(params.get("TransactItems"), list):
        kept["TransactItems"] = [
            [kind, body.get("TableName")]
            for item in params["TransactItems"] for kind, body in item.items()
        ]
    return kept


class RequestLog:
    """Attach to a running :class:`LocalCloud`; ``calls`` then grows until :meth:`detach`."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._undo: list[Callable[[], None]] = []
        self._stream_watched = False
        self._attached = False

    # --- recording -----------------------------------------------------------------------

    def record(self, principal: str, service: str, operation: str,
               params: Mapping[str, Any]) -> int:
        """Append one call; returns its index (for :meth:`answered`)."""
        with self._lock:
            self.calls.append(Call(principal, service, operation, summarize(params)))
            return len(self.calls) - 1

    def answered(self, index: int, status: int) -> None:
        with self._lock:
            self.calls[index] = replace(self.calls[index], status=status)

    def _on_answer(self, http_response: Any, context: Mapping[str, Any], **_: Any) -> None:
        index = context.get(CONTEXT_INDEX)
        if isinstance(index, int):
            self.answered(index, int(getattr(http_response, "status_code", 0)))

    def _hook(self, events: Any, handler: Callable[..., Any], event: str) -> None:
        events.register(event, handler)
        self._undo.append(lambda: events.unregister(event, handler))

    def _watch_client(self, client: Any, fixed: str | None = None) -> None:
        service = str(client.meta.service_model.service_name)

        def on_params(params: Mapping[str, Any], model: Any, context: dict[str, Any],
                      **_: Any) -> None:
            who = fixed or _principal.get() or UNATTRIBUTED
            context[CONTEXT_INDEX] = self.record(who, service, str(model.name), params)

        self._hook(client.meta.events, on_params, "provide-client-params")
        self._hook(client.meta.events, self._on_answer, "after-call")

    def _watch_default_session(self) -> None:
        """The Step Functions interpreter's clients (created per task, from boto3's default)."""
        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        assert boto3.DEFAULT_SESSION is not None
        events = boto3.DEFAULT_SESSION.events

        def on_params(params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
            context[CONTEXT_PARAMS] = dict(params)

        def on_call(model: Any, request_signer: Any, context: dict[str, Any],
                    **_: Any) -> None:
            credentials = getattr(request_signer, "_credentials", None)
            if getattr(credentials, "access_key", None) != SFN_ACCESS_KEY:
                return  # a test's or the CLI's own client
            service = str(model.service_model.service_name)
            context[CONTEXT_INDEX] = self.record(
                WORKFLOW, service, str(model.name), context.get(CONTEXT_PARAMS, {}))

        self._hook(events, on_params, "provide-client-params")
        self._hook(events, on_call, "before-call")
        self._hook(events, self._on_answer, "after-call")

    def _watch_dispatcher(self, cloud: LocalCloud) -> None:
        dispatcher = cloud.dispatcher
        original = dispatcher.call

        def call(logical: str, event: Any) -> Any:
            token = _principal.set(function_principal(logical))
            try:
                return original(logical, event)
            finally:
                _principal.reset(token)

        setattr(dispatcher, "call", call)  # noqa: B010 - an instance attribute, undone below
        self._undo.append(lambda: delattr(dispatcher, "call"))

    def _watch_schedule(self, cloud: LocalCloud) -> None:
        original = cloud.trigger_schedule
        lister = cloud.function_name("list")

        def trigger() -> None:
            self.record(SCHEDULER, "lambda", "Invoke",
                        {"FunctionName": lister, "InvocationType": "Event"})
            original()

        setattr(cloud, "trigger_schedule", trigger)  # noqa: B010
        self._undo.append(lambda: delattr(cloud, "trigger_schedule"))

    def _carry_principal_into_workers(self) -> None:
        original = concurrent.futures.ThreadPoolExecutor.submit

        def submit(pool: Any, fn: Callable[..., Any], /, *args: Any,
                   **kwargs: Any) -> concurrent.futures.Future[Any]:
            context = contextvars.copy_context()
            return original(pool, context.run, fn, *args, **kwargs)

        setattr(concurrent.futures.ThreadPoolExecutor, "submit", submit)  # noqa: B010
        self._undo.append(
            lambda: setattr(concurrent.futures.ThreadPoolExecutor, "submit", original)
        )

    @contextmanager
    def watching_stream_mapping(self) -> Iterator[None]:
        """Around ``LocalCloud.start()``: also see the stream mapping's first requests (its
        shard iterators), made as the cloud starts, before :meth:`attach` can run."""
        from . import app

        log = self

        class WatchedPlayer(StreamPlayer):
            def __init__(self, client: Any, *args: Any, **kwargs: Any) -> None:
                log._watch_client(client, fixed=STREAM_MAPPING)
                log._stream_watched = True
                super().__init__(client, *args, **kwargs)

        original = getattr(app, "StreamPlayer")  # noqa: B009 - not exported by app
        setattr(app, "StreamPlayer", WatchedPlayer)  # noqa: B010
        try:
            yield
        finally:
            setattr(app, "StreamPlayer", original)  # noqa: B010

    # --- attaching -----------------------------------------------------------------------

    def attach(self, cloud: LocalCloud) -> RequestLog:
        """Start recording what ``cloud``'s functions, workflow, mapping and schedule request."""
        if self._attached:
            raise RuntimeError("this log is already attached")
        self._attached = True
        services = Services.from_env()
        for item in fields(services):  # every client the functions use, whatever it is
            client = getattr(services, item.name)
            if hasattr(getattr(client, "meta", None), "events"):
                self._watch_client(client)
        set_services(services)
        self._undo.append(lambda: set_services(None))
        if not self._stream_watched:
            self._watch_client(cloud.client("dynamodbstreams"), fixed=STREAM_MAPPING)
        self._watch_default_session()
        self._watch_dispatcher(cloud)
        self._watch_schedule(cloud)
        self._carry_principal_into_workers()
        return self

    def detach(self) -> None:
        while self._undo:
            self._undo.pop()()
        self._stream_watched = self._attached = False

    @contextmanager
    def attached(self, cloud: LocalCloud) -> Iterator[RequestLog]:
        self.attach(cloud)
        try:
            yield self
        finally:
            self.detach()

    def by_principal(self) -> dict[str, list[Call]]:
        with self._lock:
            found: dict[str, list[Call]] = {}
            for call in self.calls:
                found.setdefault(call.principal, []).append(call)
            return found
