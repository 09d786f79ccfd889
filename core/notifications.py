"""Notifications: what was sent to whom about a record, on which channel, and how each try went.

One `Notification` per delivery (one address on one channel); one `DeliveryAttempt` per try to
send it. Both are written by the system only (the domain queues them, workers send them), so
every property is derived: no input sets them, and a notification's state moves with its
attempts rather than by a person's transition.
"""

from __future__ import annotations

import enum

from core import links
from core.records import Kind, Prop, RecordType, declare, describe

PROCESS = "Notifications"


class NotificationChannel(enum.StrEnum):
    EMAIL = "email"
    PUSH = "push"


describe(
    NotificationChannel,
    "How a notification reaches someone.",
    {
        NotificationChannel.EMAIL: "An e-mail, through the configured SMTP server.",
        NotificationChannel.PUSH: "A signed JSON POST to the person's push webhook.",
    },
)


class NotificationState(enum.StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    GIVEN_UP = "given_up"


describe(
    NotificationState,
    "Where a delivery stands.",
    {
        NotificationState.QUEUED: "Waiting for a worker to send it.",
        NotificationState.SENT: "The mail server or the webhook took it.",
        NotificationState.FAILED: "The last try failed; it will be tried again.",
        NotificationState.GIVEN_UP: "Every try failed: it will not be sent.",
    },
)


links.register(
    links.LinkType(
        "NOTIFIES_ABOUT",
        frozenset({"Notification"}),
        frozenset({"*"}),
        "the record a notification is about (an incident, a request, an alert …)",
    ),
    links.LinkType(
        "ADDRESSED_TO",
        frozenset({"Notification"}),
        frozenset({"Person", "Team"}),
        "whom a notification went to (a team's mailbox, or a person; `viaTeam` when it came "
        "from a team's members)",
    ),
    links.LinkType(
        "ATTEMPT_OF",
        frozenset({"DeliveryAttempt"}),
        frozenset({"Notification"}),
        "one try to send a notification",
    ),
)


def _derived(
    name: str,
    kind: Kind,
    description: str,
    *,
    values: type[enum.StrEnum] | None = None,
    indexed: bool = False,
    max_length: int | None = None,
    default: int | None = None,
) -> Prop:
    return Prop(
        name,
        kind,
        description,
        values=values,
        indexed=indexed,
        max_length=max_length,
        default=default,
        derived=True,
    )


NOTIFICATION = RecordType(
    "Notification",
    None,
    PROCESS,
    "One delivery of a message about a record: one address on one channel.",
    properties=(
        _derived("channel", Kind.STRING, "E-mail or push.", values=NotificationChannel),
        _derived("address", Kind.STRING, "The e-mail address or the push webhook's URL."),
        _derived("subject", Kind.STRING, "The subject line.", max_length=300),
        _derived("body", Kind.TEXT, "The message, in plain text."),
        _derived("reason", Kind.STRING, "Why it was sent (major_incident, escalation …)."),
        _derived(
            "key",
            Kind.STRING,
            "What makes it once-only: the same key, channel and address queue nothing again.",
            max_length=500,
        ),
        _derived(
            "state",
            Kind.STRING,
            "Where the delivery stands.",
            values=NotificationState,
            indexed=True,
        ),
        _derived("attempts", Kind.INT, "How many tries were made.", default=0),
        _derived("lastAttemptAt", Kind.DATETIME, "When it was last tried."),
        _derived("sentAt", Kind.DATETIME, "When the server or webhook took it."),
        _derived("lastError", Kind.TEXT, "Why the last try failed."),
    ),
)

DELIVERY_ATTEMPT = RecordType(
    "DeliveryAttempt",
    None,
    PROCESS,
    "One try to send a notification, whatever its outcome.",
    properties=(
        _derived("notificationId", Kind.STRING, "The notification tried.", indexed=True),
        _derived("attempt", Kind.INT, "Which try it was, from 1."),
        _derived("at", Kind.DATETIME, "When the try began."),
        _derived("ok", Kind.BOOL, "Whether the server or webhook took it."),
        _derived("error", Kind.TEXT, "Why it failed."),
        _derived("durationMs", Kind.INT, "How long the try took, in milliseconds."),
    ),
)

declare(NOTIFICATION, DELIVERY_ATTEMPT)
