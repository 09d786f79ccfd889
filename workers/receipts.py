"""Skipping a message delivered twice.

Delivery is at least once (the sweep may relay a message the committing process also sent, a
broker may redeliver). An actor that succeeded deletes its outbox message; a delivery whose
outbox message is gone was handled already and is skipped. Two copies processed at the very
same moment may both run, which is why every actor is idempotent as well.
"""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq.middleware import Middleware, SkipMessage

from graphdb import outbox
from workers import runtime
from workers.relay import OUTBOX_ID


class OutboxReceipts(Middleware):
    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        outbox_id = message.options.get(OUTBOX_ID)
        if outbox_id and not outbox.is_unhandled(runtime.store().graph, outbox_id):
            raise SkipMessage(f"outbox message {outbox_id} was handled already")

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        outbox_id = message.options.get(OUTBOX_ID)
        if outbox_id and exception is None:
            outbox.mark_handled(runtime.store().graph, outbox_id)
