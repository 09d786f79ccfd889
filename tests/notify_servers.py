"""Real servers for what notifications reach: an SMTP server (aiosmtpd) and a push webhook
receiver, both on loopback, recording what they got.

The receiver checks signatures on its own, as a receiver written from docs/NOTIFICATIONS.md
would (it does not call the project's signing code), so a wrong secret or a stale timestamp is
really refused. It can be told to answer the next N requests with 500.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from itsm.background import free_port

PUSH_SECRET = "test-push-secret-5b1f0c"
MAIL_FROM = "itsm@service.example.com"
MAX_AGE_SECONDS = 300


@dataclass
class ReceivedMail:
    mail_from: str
    recipients: list[str]
    message: EmailMessage


class _Collect:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        data = raw if isinstance(raw, bytes) else raw.encode()
        parsed = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.server.lock:
            self.server.messages.append(
                ReceivedMail(str(envelope.mail_from), [str(r) for r in envelope.rcpt_tos], parsed)
            )
        return "250 OK"


class SmtpServer:
    """aiosmtpd's Controller on a free loopback port; `messages` is what it was given. With
    `login` it offers AUTH over plain SMTP (it is loopback) and counts the logins it accepted
    and refused."""

    def __init__(self, login: tuple[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"smtp://127.0.0.1:{self.port}"
        self.messages: list[ReceivedMail] = []
        self.logins = 0
        self.refused_logins = 0
        self.lock = threading.Lock()
        auth: dict[str, Any] = {}
        if login is not None:
            auth = {
                "authenticator": self._authenticator(login),
                "auth_require_tls": False,
            }
        self.controller = Controller(_Collect(self), hostname="127.0.0.1", port=self.port, **auth)

    def _authenticator(self, login: tuple[str, str]) -> Any:
        def check(
            server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
        ) -> AuthResult:
            ok = (
                isinstance(data, LoginPassword)
                and (
                    data.login.decode(),
                    data.password.decode(),
                )
                == login
            )
            with self.lock:
                if ok:
                    self.logins += 1
                else:
                    self.refused_logins += 1
            return AuthResult(success=ok)

        return check

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def received(self) -> list[ReceivedMail]:
        with self.lock:
            return list(self.messages)

    def to(self, address: str) -> list[ReceivedMail]:
        return [m for m in self.received() if address in m.recipients]


@dataclass
class Push:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    status: int


@dataclass
class PushReceiver:
    """A webhook on loopback that accepts only correctly signed, fresh pushes."""

    secret: str = PUSH_SECRET
    port: int = field(default_factory=free_port)
    accepted: list[Push] = field(default_factory=list)
    refused: list[Push] = field(default_factory=list)  # bad or stale signature: 401
    failed: list[Push] = field(default_factory=list)  # told to fail: 500
    fail_next_count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def fail_next(self, count: int) -> None:
        with self.lock:
            self.fail_next_count = count

    def verify(self, timestamp: str | None, signature: str | None, body: bytes) -> bool:
        if not timestamp or not signature or not timestamp.isdigit():
            return False
        if abs(time.time() - int(timestamp)) > MAX_AGE_SECONDS:
            return False
        expected = hmac.new(
            self.secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        return hmac.compare_digest(signature, f"v1={expected}")

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> int:
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = {"unparsed": body.decode(errors="replace")}
        ok = self.verify(headers.get("x-itsm-timestamp"), headers.get("x-itsm-signature"), body)
        with self.lock:
            if not ok:
                self.refused.append(Push(path, headers, parsed, 401))
                return 401
            if self.fail_next_count > 0:
                self.fail_next_count -= 1
                self.failed.append(Push(path, headers, parsed, 500))
                return 500
            self.accepted.append(Push(path, headers, parsed, 200))
            return 200

    def start(self) -> PushReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = receiver.answer(self.path, headers, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self) -> tuple[list[Push], list[Push], list[Push]]:
        with self.lock:
            return list(self.accepted), list(self.failed), list(self.refused)


def notification_env(smtp: SmtpServer | None, *, secret: str = PUSH_SECRET) -> dict[str, str]:
    """What a worker needs to send to these servers (`start_worker(..., env=...)`); a push
    receiver's address is the person's `pushUrl`, and it shares `PUSH_SECRET`."""
    env = {"ITSM_MAIL_FROM": MAIL_FROM, "ITSM_PUSH_SECRET": secret}
    if smtp is not None:
        env["ITSM_SMTP_URL"] = smtp.url
    return env


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def push_receiver() -> Iterator[PushReceiver]:
    receiver = PushReceiver().start()
    yield receiver
    receiver.stop()
