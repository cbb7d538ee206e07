"""An account problem pauses the whole stack: one flag, one alert, and a resume.

A 401/403 from the API or a refused refresh is a condition of the account, not of a medium
(ARCHITECTURE.md). Whoever meets one first (the lister, a prepare step, the failure path) sets
the pause flag in the tracker; exactly one of them sends the alert (a conditional write on the
flag), with what to do. While paused, prepare asks nothing of the source and the failure path
parks media for the next run without touching their retry budgets. The lister checks the
account with one cheap call before any new work and lifts the pause when it works again;
``cloudsync login`` lifts it too.
"""

from __future__ import annotations

from ..errors import (
    AccountPausedError,
    AccountRefusedError,
    CredentialsMissingError,
    account_problem_names,
)
from ..observability import logger, scrub
from ..providers import CloudProvider
from ..services import Services
from ..tracker import Pause

SUBJECT = "GoPro Sync paused: your GoPro login needs you"
MAX_REASON = 500

TODO_FORBIDDEN = (
    "Check that you can open your library at https://gopro.com/media-library/ in a browser "
    "(GoPro answers 403 both to bot blocking, which passes, and to a locked account). The next "
    "nightly run checks the account first and resumes by itself once GoPro answers again; "
    "`cloudsync sync` checks now. If it keeps refusing, log in again as below."
)
TODO_LOGIN = (
    "Log in again:\n"
    "  cloudsync login --username YOU@EXAMPLE.COM --password-stdin --remember\n"
    "(--remember keeps the password only in the stack's secret, so that the next revoked "
    "token renews itself without you), or, for accounts with two-factor login, copy the web "
    "app's gp_access_token and gp_user_id cookies:\n"
    "  cloudsync login --cookie-token ... --user-id ..."
)


def is_account_problem(error_type: str) -> bool:
    return error_type in account_problem_names()


def alert_text(pause: Pause) -> tuple[str, str]:
    """Subject and message of the one alert a pause sends: what happened and what to do."""
    if pause.error_type == AccountRefusedError.__name__:
        todo = TODO_FORBIDDEN + "\n\n" + TODO_LOGIN
    elif pause.error_type == CredentialsMissingError.__name__:
        todo = "No GoPro credentials are stored. " + TODO_LOGIN.replace("Log in again", "Log in")
    else:
        todo = TODO_LOGIN
    provider = pause.provider or "GoPro"
    lines = [
        f"cloudsync paused archiving your {provider} library at {pause.since}: the account "
        "was refused, not any one medium.",
        "",
        f"Why: {pause.reason}",
        "",
        "Nothing is lost: no medium was marked failed and no retry budget was spent. Media "
        "that were on their way wait and resume where they stopped.",
        "",
        f"What to do: {todo}",
        "",
        "After that the next nightly run resumes by itself (`cloudsync sync` resumes now); "
        "`cloudsync status` shows the pause. This is the only message about this pause.",
    ]
    return SUBJECT, "\n".join(lines)


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
    return True


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
