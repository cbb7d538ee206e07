"""An account problem pauses the whole stack: one flag, one alert, and a resume.

A 401/403 from the API or a refused refresh is a condition of the account, not of a medium
(ARCHITECTURE.md). Whoever meets one first (the lister, a prepare step, the failure path) sets
the pause flag in the tracker; exactly one of them sends the alert (a conditional write on the
flag), with what to do. While paused, prepare asks nothing of the source and the failure path
parks media for the next run without touching their retry budgets. The lister checks the
account with one cheap call before any new work and lifts the pause when it works again;
``cloudsync login`` lifts it too. The alert goes by email first, then to the Slack and webhook
channels of the notify secret (``cloudsync_core.alerts``): the pause's claim makes it one post.
"""

from __future__ import annotations

from ..alerts import Alert, send_alert
from ..credentials import SecretLayout
from ..errors import (
    AccountPausedError,
    AccountRefusedError,
    CredentialsMissingError,
    UnknownProviderError,
    account_problem_names,
)
from ..observability import logger, scrub
from ..providers import DEFAULT_PROVIDER, CloudProvider, display_name, provider_spec
from ..services import Services
from ..tracker import Pause

MAX_REASON = 500


def subject(provider: str) -> str:
    """The pause alert's subject, naming the provider as its catalog entry does."""
    name = display_name(provider)
    return f"{name} Sync paused: your {name} login needs you"


SUBJECT = subject(DEFAULT_PROVIDER)


def is_account_problem(error_type: str) -> bool:
    return error_type in account_problem_names()


def _layout(provider: str) -> SecretLayout:
    """The provider's secret layout; the default provider's for a pause nobody can name."""
    try:
        return provider_spec(provider).secret
    except UnknownProviderError:
        return provider_spec(DEFAULT_PROVIDER).secret


def _todo(pause: Pause, layout: SecretLayout) -> str:
    """What to do, in the provider's own words (its secret layout)."""
    if pause.error_type == AccountRefusedError.__name__ and layout.refused_steps:
        return layout.refused_steps + "\n\n" + layout.login_steps
    if pause.error_type == CredentialsMissingError.__name__:
        return (f"No {layout.display_name} credentials are stored. "
                + layout.login_steps.replace("Log in again", "Log in"))
    return layout.login_steps


def alert_text(pause: Pause) -> tuple[str, str]:
    """Subject and message of the one alert a pause sends: what happened and what to do."""
    layout = _layout(pause.provider or DEFAULT_PROVIDER)
    provider = pause.provider or layout.display_name
    lines = [
        f"cloudsync paused archiving your {provider} library at {pause.since}: the account "
        "was refused, not any one medium.",
        "",
        f"Why: {pause.reason}",
        "",
        "Nothing is lost: no medium was marked failed and no retry budget was spent. Media "
        "that were on their way wait and resume where they stopped.",
        "",
        f"What to do: {_todo(pause, layout)}",
        "",
        "After that the next nightly run resumes by itself (`cloudsync sync` resumes now); "
        "`cloudsync status` shows the pause. This is the only message about this pause.",
    ]
    return subject(pause.provider or DEFAULT_PROVIDER), "\n".join(lines)


def pause_stack(services: Services, provider: str, error_type: str, reason: str) -> bool:
    """Pause the stack (idempotent); True when this call sent the pause's one alert."""
    tracker = services.tracker
    pause = tracker.pause(provider, error_type, scrub(reason)[:MAX_REASON])
    logger.warning(
        "the stack is paused by an account problem",
        extra={"error_type": pause.error_type, "since": pause.since},
    )
    if pause.alerted or not tracker.claim_pause_alert(pause.since):
        return False
    topic = services.settings.topic_arn
    if not topic:
        logger.error("no alerts topic is configured: the pause alert cannot be sent")
        return False
    subject, message = alert_text(pause)
    try:
        services.sns.publish(TopicArn=topic, Subject=subject, Message=message)
    except Exception:  # noqa: BLE001 - the next caller tries again; the alarm still fires
        tracker.release_pause_alert(pause.since)
        logger.exception("could not publish the pause alert")
        return False
    send_alert(services.secrets, pause_alert(pause, services.settings.environment))
    return True


def pause_alert(pause: Pause, stack: str) -> Alert:
    """The pause alert for the Slack and webhook channels."""
    subject, message = alert_text(pause)
    layout = _layout(pause.provider or DEFAULT_PROVIDER)
    return Alert(kind="pause", subject=subject, text=message, what_to_do=_todo(pause, layout),
                 stack=stack, ref=pause.since)


def raise_if_paused(services: Services) -> None:
    """For steps that would call the source: while paused, ask it nothing."""
    pause = services.tracker.get_pause()
    if pause is not None:
        raise AccountPausedError(
            f"the stack is paused since {pause.since} ({pause.error_type}): {pause.reason}"
        )


def resume_if_working(services: Services, provider: CloudProvider) -> Pause | None:
    """The lister's check before any new work: when paused, one cheap authenticated call;
    if the account answers, the pause is lifted (and returned). An account problem it meets
    raises (the caller keeps the stack paused)."""
    pause = services.tracker.get_pause()
    if pause is None:
        return None
    provider.account()
    lifted = services.tracker.clear_pause(pause.since)
    logger.info("the account works again: the pause is lifted", extra={"since": pause.since})
    return lifted
