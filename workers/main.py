"""Entry module for the Dramatiq worker process (`itsm worker`)."""

from __future__ import annotations

import logging

from itsm.config import Settings
from workers.broker import install_broker

settings = Settings.from_env()
if settings.broker_url is None:
    raise SystemExit("itsm worker needs BROKER_URL (redis://… or amqp://…)")
broker = install_broker(settings.broker_url)
logging.getLogger(__name__).info("worker connected to %s", settings.broker_url.split("@")[-1])
