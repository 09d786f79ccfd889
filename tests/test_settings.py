"""Settings a user notices: anonymous read, GraphiQL off in production, messages after commit."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from core.access import SYSTEM
from core.errors import ValidationFailed
from domain import cmdb, configuration
from graphdb.write_path import Message, Store
from itsm.app import create_app
from itsm.config import Settings
from tests.conftest import RunningServer


def test_anonymous_read_allows_queries_but_never_writes(settings: Settings, store: Store) -> None:
    open_settings = dataclasses.replace(settings, anonymous_read=True)
    with RunningServer(create_app(open_settings)) as server:
        read = httpx.post(f"{server.url}/graphql", json={"query": "{ me { name role } }"})
        assert read.json() == {"data": {"me": {"name": "anonymous", "role": None}}}
        write = httpx.post(
            f"{server.url}/graphql",
            json={
                "query": 'mutation { registerCi(input: {ciClass: "Server", name: "x"}) { ci { id } } }'
            },
        )
        assert write.status_code == 401
        assert write.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_graphiql_is_off_in_production(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITSM_ENV", "production")
    assert Settings.from_env().graphiql is False
    production = dataclasses.replace(settings, environment="production", graphiql=False)
    with RunningServer(create_app(production)) as server:
        page = httpx.get(f"{server.url}/graphql", headers={"Accept": "text/html"})
        assert "graphiql" not in page.text.lower()
        assert page.status_code in (400, 401, 404)


def test_messages_are_published_only_after_commit(store: Store) -> None:
    sent: list[Message] = []
    recording = Store(store.graph, sent.append)
    created = configuration.register_ci(recording, SYSTEM, cmdb.NewCI("Server", "esx-01"))
    assert sent == [Message("refresh_blast_radius", (created["id"],))]
    with pytest.raises(ValidationFailed):
        configuration.register_ci(recording, SYSTEM, cmdb.NewCI("Server", "esx-01"))
    assert len(sent) == 1  # the rolled-back registration announced nothing
