"""Sending one notification: e-mail through SMTP, push as a signed JSON POST.

A worker runs `send` for each `send_notification` message. Delivery is at least once, so the
notification is claimed first: one that was sent or given up, or that another worker is sending
right now (a duplicate delivery of its message), is left alone. Every try is recorded, in its own
transaction, whatever its outcome; a failed try raises `RetryLater`, and the broker's retries
(exponential back-off) bring the message back until `Channels.max_attempts` tries have failed,
when the notification is given up.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import ssl
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from core.access import SYSTEM
from core.notifications import NotificationChannel
from graphdb.cypher import notifications as cypher
from graphdb.write_path import Store, UnitOfWork, now

log = logging.getLogger(__name__)

# How long a sender holds a notification it claimed: longer than any try can take (both
# channels time out well before), so a duplicate delivery waits it out, and a worker killed
# mid-send leaves it to the broker's redelivery after this.
CLAIM = timedelta(minutes=2)
SIGNATURE_VERSION = "v1"
TIMESTAMP_HEADER = "X-ITSM-Timestamp"
SIGNATURE_HEADER = "X-ITSM-Signature"
DELIVERY_HEADER = "X-ITSM-Delivery"
# The most tries the broker makes (its retries are declared from this in `workers.registry`):
# with its back-off, from one second doubling up to five minutes, about half an hour in all.
MAX_ATTEMPTS = 12


@dataclass(frozen=True)
class Channels:
    """Where and how notifications are sent: the worker's settings."""

    smtp_url: str | None  # smtp://host:port, smtp+starttls://user:pw@host:587, smtps://…
    mail_from: str
    push_secret: str | None
    max_attempts: int = MAX_ATTEMPTS
    timeout_seconds: float = 10.0


class DeliveryFailed(Exception):
    """A channel refused or could not be reached; the message says why."""


class RetryLater(Exception):
    """The try failed and was recorded; raising it lets the broker retry with back-off."""


def send(store: Store, notification_id: str, channels: Channels) -> str | None:
    """Try to send the notification once; returns its state after the try, or None when there
    was nothing to do (sent already, given up, held by another sender, or unknown)."""
    claimed = store.write(
        SYSTEM, lambda uow: cypher.claim(uow.tx, notification_id, uow.at, uow.at + CLAIM)
    )
    if claimed is None or not (claimed["claimed"] or claimed["busy"]):
        log.info("notification %s: unknown, sent or given up: nothing to do", notification_id)
        return None
    if claimed["busy"]:
        # Another sender holds it. Coming back later either finds it sent, or, when that sender
        # died mid-try, its hold run out and the notification free to send.
        raise RetryLater(f"notification {notification_id} is being sent by another worker")
    number = int(claimed.get("attempts") or 0) + 1
    started = now()
    clock = time.monotonic()
    error: str | None = None
    try:
        if claimed["channel"] == NotificationChannel.EMAIL:
            send_email(claimed, channels)
        else:
            send_push(claimed, channels, number)
    except (DeliveryFailed, OSError, smtplib.SMTPException, httpx.HTTPError) as exc:
        error = _reason(exc)
    duration_ms = int((time.monotonic() - clock) * 1000)
    if error is None:
        state = cypher.SENT
    elif number >= channels.max_attempts:
        state = cypher.GIVEN_UP
    else:
        state = cypher.FAILED
    attempt = {
        "id": str(uuid.uuid4()),
        "attempt": number,
        "at": started,
        "ok": error is None,
        "error": error,
        "durationMs": duration_ms,
    }

    def record(uow: UnitOfWork) -> None:
        change = cypher.record_attempt(uow.tx, notification_id, attempt, state)
        uow.audit("update", "Notification", notification_id, change["before"], change["after"])

    store.write(SYSTEM, record)
    where = f"{claimed['channel']} to {claimed['address']}"
    if state == cypher.SENT:
        log.info("notification %s sent (%s, try %d)", notification_id, where, number)
    elif state == cypher.GIVEN_UP:
        log.error(
            "notification %s given up after %d tries (%s): %s",
            notification_id,
            number,
            where,
            error,
        )
    else:
        log.warning(
            "notification %s: try %d failed (%s): %s", notification_id, number, where, error
        )
        raise RetryLater(f"notification {notification_id}: try {number} failed: {error}")
    return state


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, DeliveryFailed) else f"{type(exc).__name__}: {text}"[:1000]


# -- e-mail ------------------------------------------------------------------------------------

_SMTP_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


def send_email(notification: dict[str, Any], channels: Channels) -> None:
    if not channels.smtp_url:
        log.error("ITSM_SMTP_URL is not set: e-mail notifications cannot be sent")
        raise DeliveryFailed("e-mail is not configured: ITSM_SMTP_URL is not set")
    url = urlsplit(channels.smtp_url)
    if url.scheme not in _SMTP_PORTS or not url.hostname:
        raise DeliveryFailed(
            "ITSM_SMTP_URL must be smtp://host:port, smtp+starttls://host:port or "
            "smtps://host:port (user:password@ optional)"
        )
    message = EmailMessage()
    message["From"] = channels.mail_from
    message["To"] = notification["address"]
    message["Subject"] = notification["subject"]
    message["Date"] = formatdate(localtime=False, usegmt=True)
    # The same id on every try: a mail system that got a try whose answer was lost drops the copy.
    domain = channels.mail_from.rpartition("@")[2] or "itsm.invalid"
    message["Message-ID"] = f"<{notification['id']}@{domain}>"
    message["X-ITSM-Reason"] = notification["reason"]
    about = notification.get("about") or {}
    if about.get("number"):
        message["X-ITSM-Record"] = str(about["number"])
    message.set_content(notification.get("body") or "")
    port = url.port or _SMTP_PORTS[url.scheme]
    timeout = channels.timeout_seconds
    context = ssl.create_default_context()
    server: smtplib.SMTP = (
        smtplib.SMTP_SSL(url.hostname, port, timeout=timeout, context=context)
        if url.scheme == "smtps"
        else smtplib.SMTP(url.hostname, port, timeout=timeout)
    )
    with server:
        if url.scheme == "smtp+starttls":
            server.starttls(context=context)
        if url.username:
            server.login(unquote(url.username), unquote(url.password or ""))
        server.send_message(message)


# -- push --------------------------------------------------------------------------------------


def signature(secret: str, timestamp: str, body: str) -> str:
    """The value of `X-ITSM-Signature` for a body sent at `timestamp` (unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256)
    return f"{SIGNATURE_VERSION}={digest.hexdigest()}"


def push_body(notification: dict[str, Any], attempt: int) -> str:
    """What a push webhook receives: compact JSON, signed exactly as sent."""
    about = notification.get("about") or {}
    return json.dumps(
        {
            "id": notification["id"],
            "reason": notification["reason"],
            "subject": notification["subject"],
            "body": notification.get("body") or "",
            "about": {k: about.get(k) for k in ("label", "id", "number")},
            "attempt": attempt,
        },
        separators=(",", ":"),
        sort_keys=True,
    )


def send_push(notification: dict[str, Any], channels: Channels, attempt: int) -> None:
    if not channels.push_secret:
        log.error("ITSM_PUSH_SECRET is not set: push notifications cannot be signed or sent")
        raise DeliveryFailed("push is not configured: ITSM_PUSH_SECRET is not set")
    body = push_body(notification, attempt)
    timestamp = str(int(time.time()))
    response = httpx.post(
        notification["address"],
        content=body.encode(),
        headers={
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(channels.push_secret, timestamp, body),
            DELIVERY_HEADER: notification["id"],
        },
        timeout=channels.timeout_seconds,
        # A webhook that moved must be told again: the signature is for this address.
        follow_redirects=False,
    )
    if not response.is_success:
        raise DeliveryFailed(f"the push webhook answered HTTP {response.status_code}")
