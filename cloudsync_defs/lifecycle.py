"""Archive lifecycle policies as plain data, checked against S3's transition constraints.

The Pulumi program and the local cloud both turn a policy into the same ``Rules`` list (the shape
``put_bucket_lifecycle_configuration`` takes), one rule per provider prefix. S3 refuses some rules
only when ``pulumi up`` is already half way through; ``validate`` refuses them first, with a message
that says why and what would work.

S3's constraints enforced here (current and noncurrent versions alike):

- targets are STANDARD_IA, INTELLIGENT_TIERING, ONEZONE_IA, GLACIER_IR, GLACIER, DEEP_ARCHIVE;
- transitions only go down the waterfall STANDARD_IA > INTELLIGENT_TIERING > ONEZONE_IA >
  GLACIER_IR > GLACIER > DEEP_ARCHIVE (ONEZONE_IA cannot go to GLACIER_IR), each class once, on
  strictly increasing days;
- STANDARD_IA and ONEZONE_IA need 30 days in Standard first, and 30 days in them before the next
  transition;
- after GLACIER_IR or GLACIER the next transition comes at least 90 days later (S3 answers the
  seed's GLACIER_IR@7 -> DEEP_ARCHIVE@14 with an error);
- an expiration comes after the last transition, and not before the class's minimum storage
  duration has passed there (an early delete bills the rest of the minimum anyway).

Small objects stay in Standard, deliberately: every configuration is sent with
``TransitionDefaultMinimumObjectSize = all_storage_classes_128K`` (S3's default, written down so
neither a provider default nor a console change decides it), so objects under 128 KiB never
transition. The alternative (``varies_by_storage_class``) would move them to Deep Archive, which
bills 40 KB of overhead per object (8 KB of it at the Standard rate) plus a $0.05-per-1,000
transition: a 128 KiB object saves about $0.0000025 a month there and needs some 20 months to
repay its transition, a 20 KiB one ten years. GoPro originals are megabytes; what is that small
(a tiny sidecar) costs less where it is. ``transitions_apply`` is that rule for the cost model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

ORDER: Final[tuple[str, ...]] = (
    "STANDARD_IA",
    "INTELLIGENT_TIERING",
    "ONEZONE_IA",
    "GLACIER_IR",
    "GLACIER",
    "DEEP_ARCHIVE",
)
FORBIDDEN_STEPS: Final[frozenset[tuple[str, str]]] = frozenset({("ONEZONE_IA", "GLACIER_IR")})
DAYS_IN_STANDARD_BEFORE: Final[dict[str, int]] = {"STANDARD_IA": 30, "ONEZONE_IA": 30}
DAYS_BEFORE_NEXT_TRANSITION: Final[dict[str, int]] = {
    "STANDARD_IA": 30,
    "ONEZONE_IA": 30,
    "GLACIER_IR": 90,
    "GLACIER": 90,
}
MINIMUM_STORAGE_DAYS: Final[dict[str, int]] = {
    "STANDARD_IA": 30,
    "ONEZONE_IA": 30,
    "GLACIER_IR": 90,
    "GLACIER": 90,
    "DEEP_ARCHIVE": 180,
}


class LifecycleError(ValueError):
    """A lifecycle policy that S3 would refuse (or that bills more than it saves)."""


@dataclass(frozen=True)
class Transition:
    """Objects move to ``storage_class`` ``days`` after they were written (or became
    noncurrent)."""

    days: int
    storage_class: str


@dataclass(frozen=True)
class LifecyclePolicy:
    name: str
    transitions: tuple[Transition, ...]
    noncurrent_transitions: tuple[Transition, ...] = ()
    noncurrent_expiration_days: int | None = None  # None: noncurrent versions are kept
    abort_incomplete_upload_days: int = 7
    description: str = field(default="", compare=False)


POLICIES: Final[dict[str, LifecyclePolicy]] = {
    "seed": LifecyclePolicy(
        "seed",
        (Transition(7, "GLACIER_IR"), Transition(14, "DEEP_ARCHIVE")),
        (Transition(30, "DEEP_ARCHIVE"),),
        description="The seed design as written: S3 refuses it (Deep Archive < 90 days after IR).",
    ),
    "default": LifecyclePolicy(
        "default",
        (Transition(14, "DEEP_ARCHIVE"),),
        (Transition(30, "DEEP_ARCHIVE"),),
        description="Two weeks of instant access in Standard, then Deep Archive.",
    ),
    "deep-archive-now": LifecyclePolicy(
        "deep-archive-now",
        (Transition(0, "DEEP_ARCHIVE"),),
        (Transition(1, "DEEP_ARCHIVE"),),
        description="Deep Archive from the first night: cheapest, 12-48 h to read anything back.",
    ),
}
DEFAULT_POLICY: Final = "default"
# See the module docstring: objects under 128 KiB stay in Standard, whatever the policy says.
TRANSITION_DEFAULT_MINIMUM_OBJECT_SIZE: Final = "all_storage_classes_128K"
MINIMUM_TRANSITION_BYTES: Final = 128 * 1024


def transitions_apply(object_bytes: float) -> bool:
    """Whether the lifecycle moves an object of this size at all (the 128 KiB floor)."""
    return object_bytes >= MINIMUM_TRANSITION_BYTES


def lifecycle_request(rules: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``put_bucket_lifecycle_configuration``'s arguments but the bucket (the local cloud's)."""
    return {
        "LifecycleConfiguration": {"Rules": [dict(r) for r in rules]},
        "TransitionDefaultMinimumObjectSize": TRANSITION_DEFAULT_MINIMUM_OBJECT_SIZE,
    }


def _check_chain(what: str, chain: Sequence[Transition], minimum_first_day: int) -> list[str]:
    errors: list[str] = []
    previous: Transition | None = None
    for step in chain:
        label = f"{what}: {step.storage_class} at day {step.days}"
        if step.storage_class not in ORDER:
            errors.append(
                f"{label}: S3 cannot transition to {step.storage_class!r}; "
                f"use one of {', '.join(ORDER)}"
            )
            previous = step
            continue
        if step.days < minimum_first_day:
            errors.append(f"{label}: days must be at least {minimum_first_day}")
        need_standard = DAYS_IN_STANDARD_BEFORE.get(step.storage_class, 0)
        if previous is None and step.days < need_standard:
            errors.append(
                f"{label}: S3 needs objects {need_standard} days in Standard before "
                f"{step.storage_class}"
            )
        if previous is not None and previous.storage_class in ORDER:
            if ORDER.index(step.storage_class) <= ORDER.index(previous.storage_class):
                errors.append(
                    f"{label}: S3 only transitions down the waterfall {' > '.join(ORDER)}; "
                    f"it cannot go from {previous.storage_class} to {step.storage_class}"
                )
            elif (previous.storage_class, step.storage_class) in FORBIDDEN_STEPS:
                errors.append(
                    f"{label}: S3 cannot transition from {previous.storage_class} to "
                    f"{step.storage_class}"
                )
            gap = DAYS_BEFORE_NEXT_TRANSITION.get(previous.storage_class, 1)
            if step.days - previous.days < gap:
                errors.append(
                    f"{label}: S3 refuses a transition less than {gap} days after the "
                    f"{previous.storage_class} transition at day {previous.days} (earliest: day "
                    f"{previous.days + gap}); {previous.storage_class} also bills its "
                    f"{MINIMUM_STORAGE_DAYS.get(previous.storage_class, gap)}-day minimum in full"
                )
        previous = step
    return errors


def _check_expiration(what: str, chain: Sequence[Transition], days: int | None) -> list[str]:
    if days is None:
        return []
    if days < 1:
        return [f"{what}: expiration must be at least 1 day, not {days}"]
    if not chain:
        return []
    last = chain[-1]
    minimum = last.days + MINIMUM_STORAGE_DAYS.get(last.storage_class, 1)
    if days < minimum:
        return [
            f"{what}: expiring at day {days} comes before {last.storage_class}'s minimum storage "
            f"duration has passed (the transition at day {last.days} bills until day {minimum}); "
            f"expire at day {minimum} or later"
        ]
    return []


def problems(policy: LifecyclePolicy) -> list[str]:
    """Every reason S3 would refuse this policy (empty when it is valid)."""
    where = f"lifecycle policy {policy.name!r}"
    errors = _check_chain(f"{where}, current versions", policy.transitions, 0)
    errors += _check_chain(f"{where}, noncurrent versions", policy.noncurrent_transitions, 1)
    errors += _check_expiration(
        f"{where}, noncurrent versions", policy.noncurrent_transitions,
        policy.noncurrent_expiration_days,
    )
    if policy.abort_incomplete_upload_days < 1:
        errors.append(
            f"{where}: incomplete multipart uploads must be aborted after at least 1 day, "
            f"not {policy.abort_incomplete_upload_days}"
        )
    return errors


def validate(policy: LifecyclePolicy) -> LifecyclePolicy:
    """The policy itself, or a ``LifecycleError`` naming every constraint it breaks."""
    errors = problems(policy)
    if errors:
        raise LifecycleError("; ".join(errors))
    return policy


def _transitions(raw: object, where: str) -> tuple[Transition, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise LifecycleError(f"{where} must be a list of {{days, storageClass}}")
    steps: list[Transition] = []
    for item in raw:
        if not isinstance(item, Mapping):
            raise LifecycleError(f"{where}: each transition is {{days, storageClass}}")
        days = item.get("days")
        storage_class = item.get("storageClass")
        valid_days = isinstance(days, int) and not isinstance(days, bool)
        if not valid_days or not isinstance(storage_class, str):
            raise LifecycleError(
                f"{where}: each transition needs a whole number 'days' and a 'storageClass'"
            )
        steps.append(Transition(int(str(days)), storage_class.upper()))
    return tuple(steps)


def policy_from_config(value: object, where: str = "lifecycle") -> LifecyclePolicy:
    """A named policy (``"default"``) or a custom one, validated.

    A custom policy is ``{"transitions": [{"days": 14, "storageClass": "DEEP_ARCHIVE"}],
    "noncurrentTransitions": [...], "noncurrentExpirationDays": null,
    "abortIncompleteUploadDays": 7}``.
    """
    if isinstance(value, str):
        if value not in POLICIES:
            raise LifecycleError(
                f"{where}: unknown lifecycle policy {value!r}; choose one of "
                f"{', '.join(sorted(POLICIES))} or give {{transitions: [...]}}"
            )
        return validate(POLICIES[value])
    if not isinstance(value, Mapping):
        raise LifecycleError(f"{where}: a policy name or an object with 'transitions'")
    unknown = set(value) - {
        "name", "transitions", "noncurrentTransitions", "noncurrentExpirationDays",
        "abortIncompleteUploadDays",
    }
    if unknown:
        raise LifecycleError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    expiration = value.get("noncurrentExpirationDays")
    abort = value.get("abortIncompleteUploadDays", 7)
    if expiration is not None and not isinstance(expiration, int):
        raise LifecycleError(f"{where}: noncurrentExpirationDays must be a whole number or null")
    if not isinstance(abort, int):
        raise LifecycleError(f"{where}: abortIncompleteUploadDays must be a whole number")
    return validate(
        LifecyclePolicy(
            name=str(value.get("name", "custom")),
            transitions=_transitions(value.get("transitions"), f"{where}.transitions"),
            noncurrent_transitions=_transitions(
                value.get("noncurrentTransitions"), f"{where}.noncurrentTransitions"
            ),
            noncurrent_expiration_days=expiration,
            abort_incomplete_upload_days=abort,
        )
    )


def rule_id(prefix: str) -> str:
    return f"archive-{prefix.rstrip('/')}"


def _prefix(provider_or_prefix: str) -> str:
    if provider_or_prefix.endswith("/"):
        if provider_or_prefix == "/" or provider_or_prefix.startswith("/"):
            raise LifecycleError(f"archive prefix {provider_or_prefix!r} is not a folder")
        return provider_or_prefix
    from cloudsync_core.errors import CloudSyncError
    from cloudsync_core.keys import archive_prefix

    try:
        return archive_prefix(provider_or_prefix)
    except CloudSyncError as e:
        raise LifecycleError(str(e)) from e


def lifecycle_rules(
    policy: LifecyclePolicy | Mapping[str, LifecyclePolicy], providers: Iterable[str]
) -> list[dict[str, Any]]:
    """S3 API ``Rules``: one rule per provider's archive prefix (``gopro-videos/``), validated.

    ``providers`` holds provider names (``gopro``) or archive prefixes (``gopro-videos/``);
    ``policy`` is one policy for all, or a mapping from provider name or prefix to policy.
    """
    rules: list[dict[str, Any]] = []
    for name in providers:
        prefix = _prefix(name)
        if isinstance(policy, Mapping):
            chosen = policy[name] if name in policy else policy[prefix]
        else:
            chosen = policy
        validate(chosen)
        rule: dict[str, Any] = {
            "ID": rule_id(prefix),
            "Status": "Enabled",
            "Filter": {"Prefix": prefix},
            "AbortIncompleteMultipartUpload": {
                "DaysAfterInitiation": chosen.abort_incomplete_upload_days
            },
        }
        if chosen.transitions:
            rule["Transitions"] = [
                {"Days": t.days, "StorageClass": t.storage_class} for t in chosen.transitions
            ]
        if chosen.noncurrent_transitions:
            rule["NoncurrentVersionTransitions"] = [
                {"NoncurrentDays": t.days, "StorageClass": t.storage_class}
                for t in chosen.noncurrent_transitions
            ]
        if chosen.noncurrent_expiration_days is not None:
            rule["NoncurrentVersionExpiration"] = {
                "NoncurrentDays": chosen.noncurrent_expiration_days
            }
        rules.append(rule)
    if len({r["ID"] for r in rules}) != len(rules):
        raise LifecycleError("two archive prefixes are the same")
    return rules


def policy_from_rule(rule: Mapping[str, Any]) -> LifecyclePolicy:
    """The policy an S3 API rule expresses (used to re-check deployed or previewed rules)."""
    return LifecyclePolicy(
        name=str(rule.get("ID", "rule")),
        transitions=tuple(
            Transition(int(t.get("Days", 0)), str(t.get("StorageClass")))
            for t in rule.get("Transitions") or []
        ),
        noncurrent_transitions=tuple(
            Transition(int(t.get("NoncurrentDays", 0)), str(t.get("StorageClass")))
            for t in rule.get("NoncurrentVersionTransitions") or []
        ),
        noncurrent_expiration_days=(
            int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])
            if rule.get("NoncurrentVersionExpiration") else None
        ),
        abort_incomplete_upload_days=int(
            (rule.get("AbortIncompleteMultipartUpload") or {}).get("DaysAfterInitiation", 7)
        ),
    )


def validate_rules(rules: Sequence[Mapping[str, Any]]) -> None:
    """Re-check S3 API rules (e.g. what a deployer is about to send)."""
    errors: list[str] = []
    for rule in rules:
        errors += problems(policy_from_rule(rule))
        if not rule.get("AbortIncompleteMultipartUpload"):
            errors.append(f"rule {rule.get('ID')!r}: no AbortIncompleteMultipartUpload")
    if errors:
        raise LifecycleError("; ".join(errors))
