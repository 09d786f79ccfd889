"""Entry module for the Dramatiq worker processes (`itsm worker`).

Each worker process also runs a scheduler (unless `ITSM_WORKER_SCHEDULER=0`); the scheduler lock
lets only one of them sweep at a time. Dramatiq's command line consumes every queue of the actors
declared here (`default`, and `ingest` for accepted events and samples) unless `--queues` narrows
it.
"""

from __future__ import annotations

import logging
import os

from itsm.config import Settings
from workers import runtime
from workers.broker import Redelivery, import_extensions, install_broker
from workers.relay import send
from workers.scheduler import Scheduler, SchedulerMiddleware, lock_for

settings = Settings.from_env()
if settings.broker_url is None:
    raise SystemExit("itsm worker needs BROKER_URL (redis://… or amqp://…)")
import_extensions(settings.extension_modules)
broker = install_broker(settings.broker_url, Redelivery.from_settings(settings))
if os.environ.get("ITSM_WORKER_SCHEDULER", "1") != "0":
    store = runtime.store()
    lock = lock_for(broker, store, settings.scheduler_lock_seconds)
    broker.add_middleware(SchedulerMiddleware(Scheduler(store, send, lock, settings.sweep_seconds)))
logging.getLogger(__name__).info("worker connected to %s", settings.broker_url.split("@")[-1])
