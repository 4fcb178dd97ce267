"""Hostile input never answers 500: a corpus of hand-made probes over every kind of route.

NaN and Infinity in JSON, lone surrogates (which the 422's echo of the input must survive),
year-1 and year-9999 times with offsets, numbers given as dates, deeply nested JSON, NUL
characters (PostgreSQL refuses them) in bodies, forms, query and path parameters. Each probe
names the status it must get: 422 naming the field, 400 for a body that is not JSON at all, or
the ordinary answer where the input is harmless. Run on both databases.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import (
    Annotation,
    AuditEvent,
    Client,
    Episode,
    Measure,
    Observation,
    Session,
    User,
)
from practice_dashboard.models.enums import Role
from tests.builders import (
    NOW,
    auth_headers,
    make_annotation,
    make_checkin_link,
    make_client,
    make_episode,
    make_measure,
    make_observation,
    make_session,
    make_user,
)

AT = (NOW - timedelta(days=1)).isoformat()
SURROGATE = "\\ud800"  # a lone surrogate as JSON writes it: valid JSON, not encodable UTF-8
NESTED = "[" * 100_000 + "]" * 100_000
CLINICAL_WRITES = (Client, Session, Observation, Episode, Measure, Annotation)


@dataclass(frozen=True)
class Probe:
    """One request and the status it must get; `loc` is the field a 422 must name."""

    name: str
    method: str
    path: str  # {client}, {session}, {observation}, {episode}, {measure}, {annotation}, {token}
    status: int
    loc: str | None = None
    json: Any = None
    raw: str | bytes | None = None  # a body sent as written (NaN, surrogates, nesting)
    form: dict[str, str] | None = None
    auth: bool = True
    params: dict[str, str] = field(default_factory=dict)


def _obs(**overrides: Any) -> dict[str, Any]:
    return {"observed_at": AT, "zone": "within", "activation": 3, **overrides}


def _raw_obs(activation: str = "3", **fields: str) -> str:
    extra = "".join(f', "{k}": {v}' for k, v in fields.items())
    return f'{{"observed_at": "{AT}", "zone": "within", "activation": {activation}{extra}}}'


OBS = "/api/v1/clients/{client}/observations"
EPISODES = "/api/v1/clients/{client}/episodes"
MEASURES = "/api/v1/clients/{client}/measures"
SESSIONS = "/api/v1/clients/{client}/sessions"
ANNOTATIONS = "/api/v1/clients/{client}/annotations"
CLIENTS = "/api/v1/clients"
TIMES = {
    "year 1 with a negative offset": "0001-01-01T00:00:00-05:00",
    "year 1 with a positive offset": "0001-01-01T00:00:00+05:00",
    "year 1 in UTC": "0001-01-01T00:00:00Z",
    "year 9999 with a negative offset": "9999-12-31T23:59:59-05:00",
    "year 9999 with a positive offset": "9999-12-31T23:59:59+05:00",
    "year 1899": "1899-12-31T23:00:00Z",
}
NUMBERS = {"zero": 0, "epoch seconds": 1_780_000_000, "a float": 1.5e9, "true": True}

PROBES: list[Probe] = [
    # NaN and Infinity: Python's JSON parser reads them; they are not finite numbers.
    Probe("NaN rating", "POST", OBS, 422, "activation", raw=_raw_obs("NaN")),
    Probe("Infinity rating", "POST", OBS, 422, "activation", raw=_raw_obs("Infinity")),
    Probe("-Infinity rating", "POST", OBS, 422, "capacity", raw=_raw_obs(capacity="-Infinity")),
    Probe("NaN in a batch", "POST", OBS, 422, "activation", raw=f"[{_raw_obs('NaN')}]"),
    Probe(
        "NaN total",
        "POST",
        MEASURES,
        422,
        "total",
        raw=f'{{"instrument": "ors", "administered_at": "{AT}", "total": NaN}}',
    ),
    Probe(
        "Infinity total",
        "POST",
        MEASURES,
        422,
        "total",
        raw=f'{{"instrument": "srs", "administered_at": "{AT}", "total": Infinity}}',
    ),
    Probe(
        "NaN item",
        "POST",
        MEASURES,
        422,
        "0",
        raw=f'{{"instrument": "phq9", "administered_at": "{AT}", "items": [NaN]}}',
    ),
    Probe("NaN as a time", "POST", OBS, 422, "observed_at", raw=_raw_obs(observed_at="NaN")),
    Probe(
        "NaN duration",
        "POST",
        SESSIONS,
        422,
        "duration_minutes",
        raw=f'{{"starts_at": "{AT}", "duration_minutes": NaN}}',
    ),
    Probe(
        "NaN version",
        "PATCH",
        "/api/v1/observations/{observation}",
        422,
        "version",
        raw='{"version": NaN, "activation": 4}',
    ),
    Probe(
        "NaN cadence",
        "POST",
        CLIENTS,
        422,
        "session_cadence_days",
        raw='{"display_name": "N", "session_cadence_days": NaN}',
    ),
    Probe(
        "Infinity self-check total",
        "POST",
        "/api/v1/me/self-checks",
        422,
        "total",
        raw=f'{{"instrument": "cbi", "administered_at": "{AT}", "total": Infinity}}',
    ),
    Probe("NaN body", "POST", OBS, 422, raw="NaN"),
    # Lone surrogates: the 422 echoes the input, and must still be encodable.
    Probe(
        "surrogate name",
        "POST",
        CLIENTS,
        422,
        "display_name",
        raw=f'{{"display_name": "{SURROGATE}", "session_cadence_days": 0}}',
    ),
    Probe(
        "surrogate zone",
        "POST",
        OBS,
        422,
        "zone",
        raw=f'{{"observed_at": "{AT}", "zone": "{SURROGATE}", "activation": 3}}',
    ),
    Probe(
        "surrogate time",
        "POST",
        OBS,
        422,
        "observed_at",
        raw=_raw_obs(observed_at=f'"{SURROGATE}"'),
    ),
    Probe("surrogate key", "POST", OBS, 422, raw=_raw_obs(**{SURROGATE: "1"})),
    Probe(
        "surrogate instrument",
        "POST",
        MEASURES,
        422,
        "instrument",
        raw=f'{{"instrument": "{SURROGATE}", "administered_at": "{AT}", "items": []}}',
    ),
    Probe(
        "surrogate notes",
        "POST",
        OBS,
        422,
        "notes",
        raw=_raw_obs(activation="99", notes=f'"{SURROGATE}"'),
    ),
    Probe(
        "surrogate notes alone", "POST", OBS, 422, "notes", raw=_raw_obs(notes=f'"a{SURROGATE}b"')
    ),
    Probe(
        "surrogate strategy",
        "POST",
        EPISODES,
        422,
        "strategies",
        raw=f'{{"started_at": "{AT}", "peak_intensity": 5, "strategies": ["{SURROGATE}"]}}',
    ),
    Probe(
        "surrogate label",
        "POST",
        ANNOTATIONS,
        422,
        "label",
        raw=f'{{"at": "{AT}", "kind": "other", "label": "{SURROGATE}"}}',
    ),
    Probe(
        "surrogate email",
        "POST",
        "/api/v1/users",
        403,
        raw=f'{{"email": "{SURROGATE}@x.org", "full_name": "x", "role": "coach"}}',
    ),
    Probe(
        "surrogate flag note",
        "POST",
        "/api/v1/clients/{client}/flags/safety/acknowledge",
        422,
        "note",
        raw=f'{{"note": "{SURROGATE}", "level": "nonsense"}}',
    ),
    # Deep nesting and bodies that are not JSON.
    # Observations read their own body (one object or a batch): a 422 for what is not JSON.
    Probe("deep array body", "POST", OBS, 422, "body", raw=NESTED),
    Probe(
        "deep object in a field",
        "POST",
        OBS,
        422,
        "body",
        raw=_raw_obs(notes='{"a":' * 50_000 + "1" + "}" * 50_000),
    ),
    Probe("deep body unauthenticated", "POST", OBS, 422, "body", raw=NESTED, auth=False),
    Probe("deep body elsewhere", "POST", EPISODES, 400, raw=NESTED),
    Probe("deep body elsewhere unauthenticated", "POST", EPISODES, 400, raw=NESTED, auth=False),
    Probe(
        "deep field elsewhere",
        "POST",
        EPISODES,
        400,
        raw='{"strategies": ' + "[" * 50_000 + "]" * 50_000 + "}",
    ),
    Probe(
        "a huge number elsewhere",
        "POST",
        SESSIONS,
        400,
        raw=f'{{"starts_at": "{AT}", "duration_minutes": {"9" * 5000}}}',
    ),
    Probe("not UTF-8 elsewhere", "POST", EPISODES, 400, raw=b'{"notes": "\xff\xfe"}'),
    Probe("truncated JSON", "POST", OBS, 422, raw='{"observed_at": '),
    Probe("not UTF-8", "POST", OBS, 422, "body", raw=b'{"notes": "\xff\xfe"}'),
    Probe("a huge number", "POST", OBS, 422, "body", raw=_raw_obs("9" * 5000)),
    Probe("a big number", "POST", OBS, 422, "activation", raw=_raw_obs("9" * 400)),
    Probe(
        "a big version",
        "PATCH",
        "/api/v1/observations/{observation}",
        409,
        json={"version": 2**70, "activation": 4},
    ),
    Probe("a big offset", "GET", CLIENTS, 422, "offset", params={"offset": "99999999999999999999"}),
    Probe("a big limit", "GET", OBS, 422, "limit", params={"limit": "99999999999999999999"}),
    Probe(
        "a big cadence",
        "POST",
        CLIENTS,
        422,
        "session_cadence_days",
        json={"display_name": "x", "session_cadence_days": 2**70},
    ),
    # Times out of range, with and without offsets, through every kind that stores one.
    *(
        Probe(f"observation {name}", "POST", OBS, 422, "observed_at", json=_obs(observed_at=t))
        for name, t in TIMES.items()
    ),
    *(
        Probe(
            f"episode {name}",
            "POST",
            EPISODES,
            422,
            "started_at",
            json={"started_at": t, "peak_intensity": 5},
        )
        for name, t in TIMES.items()
    ),
    Probe(
        "baseline in year 9999",
        "POST",
        EPISODES,
        422,
        "baseline_at",
        json={
            "started_at": AT,
            "peak_intensity": 5,
            "baseline_at": TIMES["year 1 in UTC"].replace("0001", "9999"),
        },
    ),
    Probe(
        "measure year 1",
        "POST",
        MEASURES,
        422,
        "administered_at",
        json={"instrument": "phq9", "administered_at": TIMES["year 1 in UTC"], "items": [0] * 9},
    ),
    Probe(
        "measure year 9999+05",
        "POST",
        MEASURES,
        422,
        "administered_at",
        json={
            "instrument": "phq9",
            "administered_at": TIMES["year 9999 with a positive offset"],
            "items": [0] * 9,
        },
    ),
    Probe(
        "session year 1",
        "POST",
        SESSIONS,
        422,
        "starts_at",
        json={"starts_at": TIMES["year 1 with a negative offset"]},
    ),
    Probe(
        "booking year 9999",
        "POST",
        SESSIONS,
        422,
        "starts_at",
        json={"starts_at": TIMES["year 9999 with a negative offset"]},
    ),
    Probe(
        "booking in 2099",
        "POST",
        SESSIONS,
        422,
        "starts_at",
        json={"starts_at": "2099-01-01T10:00:00Z"},
    ),
    Probe(
        "series year 9999",
        "POST",
        "/api/v1/clients/{client}/sessions/series",
        422,
        "starts_at",
        json={"starts_at": TIMES["year 9999 with a positive offset"], "count": 2},
    ),
    Probe(
        "annotation year 1",
        "POST",
        ANNOTATIONS,
        422,
        "at",
        json={"at": TIMES["year 1 in UTC"], "kind": "other", "label": "x"},
    ),
    Probe(
        "annotation in 2099",
        "POST",
        ANNOTATIONS,
        422,
        "at",
        json={"at": "2099-01-01T00:00:00Z", "kind": "other", "label": "x"},
    ),
    Probe(
        "edit to year 1",
        "PATCH",
        "/api/v1/observations/{observation}",
        422,
        "observed_at",
        json={"version": 1, "observed_at": TIMES["year 1 in UTC"]},
    ),
    Probe(
        "edit episode to year 9999",
        "PATCH",
        "/api/v1/episodes/{episode}",
        422,
        "started_at",
        json={"version": 1, "started_at": TIMES["year 9999 with a positive offset"]},
    ),
    Probe(
        "intake in year 1",
        "POST",
        CLIENTS,
        422,
        "intake_date",
        json={"display_name": "x", "intake_date": "0001-01-01"},
    ),
    Probe(
        "birth in year 9999",
        "POST",
        CLIENTS,
        422,
        "date_of_birth",
        json={"display_name": "x", "date_of_birth": "9999-12-31"},
    ),
    Probe(
        "birth in 1850",
        "POST",
        CLIENTS,
        422,
        "date_of_birth",
        json={"display_name": "x", "date_of_birth": "1850-01-01"},
    ),
    Probe(
        "assignment from year 1",
        "POST",
        "/api/v1/clients/{client}/assignments",
        422,
        "starts_on",
        json={"instrument": "phq9", "every_days": 14, "starts_on": "0001-01-01"},
    ),
    Probe(
        "assignment until 9999",
        "POST",
        "/api/v1/clients/{client}/assignments",
        422,
        "ends_on",
        json={
            "instrument": "phq9",
            "every_days": 14,
            "starts_on": "2026-01-01",
            "ends_on": "9999-12-31",
        },
    ),
    # Numbers given as dates (lax mode would read seconds since 1970).
    *(
        Probe(f"observed_at as {name}", "POST", OBS, 422, "observed_at", json=_obs(observed_at=n))
        for name, n in NUMBERS.items()
    ),
    Probe("starts_at as a number", "POST", SESSIONS, 422, "starts_at", json={"starts_at": 0}),
    Probe(
        "intake as a number",
        "POST",
        CLIENTS,
        422,
        "intake_date",
        json={"display_name": "x", "intake_date": 20260101},
    ),
    Probe(
        "birth as a number",
        "POST",
        CLIENTS,
        422,
        "date_of_birth",
        json={"display_name": "x", "date_of_birth": 0},
    ),
    # Times in query parameters.
    Probe(
        "list from year 1",
        "GET",
        OBS,
        422,
        "start",
        params={"start": TIMES["year 1 with a positive offset"]},
    ),
    Probe(
        "list to year 9999",
        "GET",
        EPISODES,
        422,
        "end",
        params={"end": TIMES["year 9999 with a negative offset"]},
    ),
    Probe(
        "metrics from year 1",
        "GET",
        "/api/v1/clients/{client}/metrics",
        422,
        "start",
        params={"start": TIMES["year 1 with a positive offset"]},
    ),
    Probe(
        "metrics as of year 9999",
        "GET",
        "/api/v1/clients/{client}/metrics",
        422,
        "as_of",
        params={"as_of": "9999-12-31"},
    ),
    Probe(
        "schedule in year 9999",
        "GET",
        "/api/v1/schedule",
        422,
        "start",
        params={
            "start": TIMES["year 9999 with a negative offset"],
            "end": TIMES["year 9999 with a negative offset"],
        },
    ),
    Probe(
        "summary from year 1",
        "GET",
        "/api/v1/clients/{client}/summary.pdf",
        422,
        "start",
        params={"start": "0001-01-01"},
    ),
    Probe(
        "audit from year 1",
        "GET",
        "/api/v1/audit-events",
        422,
        "start",
        params={"start": TIMES["year 1 with a positive offset"]},
    ),
    # NUL characters: bodies, forms, query and path parameters.
    Probe("NUL in notes", "POST", OBS, 422, "notes", json=_obs(notes="a\x00b")),
    Probe("NUL in a name", "POST", CLIENTS, 422, "display_name", json={"display_name": "\x00"}),
    Probe(
        "NUL in a ref",
        "POST",
        CLIENTS,
        422,
        "external_ref",
        json={"display_name": "x", "external_ref": "\x00"},
    ),
    Probe(
        "NUL in a strategy",
        "POST",
        EPISODES,
        422,
        "strategies",
        json={"started_at": AT, "peak_intensity": 5, "strategies": ["a\x00"]},
    ),
    Probe(
        "NUL in an instrument",
        "POST",
        MEASURES,
        422,
        "instrument",
        json={"instrument": "phq9\x00", "administered_at": AT, "items": [0] * 9},
    ),
    Probe("NUL in a zone", "POST", OBS, 422, "zone", json=_obs(zone="within\x00")),
    Probe("NUL in a key", "POST", OBS, 422, "a\x00", json=_obs(**{"a\x00": 1})),
    Probe(
        "NUL in a flag note",
        "POST",
        "/api/v1/clients/{client}/flags/safety/acknowledge",
        422,
        "note",
        json={"note": "\x00"},
    ),
    Probe("NUL in a search", "GET", CLIENTS, 422, "search", params={"search": "a\x00"}),
    Probe(
        "NUL in a caseload search",
        "GET",
        "/api/v1/caseload",
        422,
        "search",
        params={"search": "\x00"},
    ),
    Probe("NUL in a filter", "GET", MEASURES, 422, "instrument", params={"instrument": "\x00"}),
    Probe(
        "NUL in an export kind", "GET", "/api/v1/export.csv", 422, "kind", params={"kind": "\x00"}
    ),
    Probe("NUL in a time filter", "GET", OBS, 422, "start", params={"start": "\x00"}),
    Probe("NUL in an unknown parameter", "GET", CLIENTS, 422, "x\x00", params={"x\x00": "1"}),
    Probe("NUL in a path id", "GET", "/api/v1/clients/%00", 422, "client_id"),
    Probe(
        "NUL in a flag code",
        "POST",
        "/api/v1/clients/{client}/flags/%00/acknowledge",
        422,
        "code",
        json={},
    ),
    Probe("NUL in a history kind", "GET", "/api/v1/observations/a%00b/history", 422, "record_id"),
    Probe(
        "NUL in the token username",
        "POST",
        "/api/v1/auth/token",
        422,
        "username",
        form={"username": "a\x00@example.org", "password": "x"},
        auth=False,
    ),
    Probe(
        "NUL in the token password",
        "POST",
        "/api/v1/auth/token",
        422,
        "password",
        form={"username": "a@example.org", "password": "\x00"},
        auth=False,
    ),
    Probe(
        "NUL in the token second factor",
        "POST",
        "/api/v1/auth/token",
        422,
        "otp",
        form={"username": "a@example.org", "password": "x", "otp": "12\x0034"},
        auth=False,
    ),
    # Without a pending login the code step sends the browser back to the login page.
    Probe(
        "NUL in the login code step",
        "POST",
        "/login/mfa",
        303,
        form={"code": "\x00", "csrf_token": "t"},
        auth=False,
    ),
    Probe(
        "surrogate-free junk token form",
        "POST",
        "/api/v1/auth/token",
        401,
        form={"username": "nobody@example.org", "password": "x"},
        auth=False,
    ),
    Probe(
        "NUL in an unauthenticated path", "GET", "/api/v1/clients/%00", 422, "client_id", auth=False
    ),
    Probe("NUL in a check-in token", "GET", "/c/%00", 422, "token", auth=False),
    Probe(
        "NUL in a check-in path", "GET", "/c/{token}/episodes/%00", 422, "episode_id", auth=False
    ),
    Probe(
        # The check-in page refuses a code that is not digits on its own page.
        "NUL in the check-in code",
        "POST",
        "/c/{token}/code",
        400,
        form={"code": "\x00"},
        auth=False,
    ),
    Probe(
        "NUL in a page query", "GET", "/clients/{client}", 422, "start", params={"start": "\x00"}
    ),
    Probe(
        "NUL in the login email",
        "POST",
        "/login",
        422,
        "email",
        form={"email": "a\x00@example.org", "password": "x", "csrf_token": "t"},
        auth=False,
    ),
    Probe(
        "NUL in the login password",
        "POST",
        "/login",
        422,
        "password",
        form={"email": "a@example.org", "password": "x\x00", "csrf_token": "t"},
        auth=False,
    ),
    Probe(
        "NUL in the login next",
        "POST",
        "/login",
        422,
        "next",
        form={"email": "a@example.org", "password": "x", "csrf_token": "t", "next": "/\x00"},
        auth=False,
    ),
    Probe(
        "NUL in a login query", "GET", "/login", 422, "next", params={"next": "/\x00"}, auth=False
    ),
    Probe("NUL in a health query", "GET", "/healthz", 422, "x", params={"x": "\x00"}, auth=False),
]


@dataclass
class World:
    ids: dict[str, str]
    headers: dict[str, str]


@pytest.fixture
def world(db: DbSession, settings: Settings) -> World:
    owner = make_user(db, settings, Role.THERAPIST)
    client = make_client(db, owner)
    token, _link = make_checkin_link(db, settings, client)
    ids = {
        "client": str(client.id),
        "session": str(make_session(db, client).id),
        "observation": str(make_observation(db, client).id),
        "episode": str(make_episode(db, client).id),
        "measure": str(make_measure(db, client).id),
        "annotation": str(make_annotation(db, client).id),
        "token": token,
    }
    db.commit()
    return World(ids, auth_headers(settings, owner))


@pytest.fixture
def quiet(app: FastAPI) -> Iterator[TestClient]:
    """A server error comes back as the 500 a caller would see, not as an exception."""
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _send(api: TestClient, probe: Probe, world: World) -> Any:
    path = probe.path.format(**world.ids)
    headers = dict(world.headers) if probe.auth else {}
    kwargs: dict[str, Any] = {"params": probe.params, "headers": headers, "follow_redirects": False}
    if probe.raw is not None:
        headers["content-type"] = "application/json"
        raw = probe.raw
        kwargs["content"] = raw.encode("utf-8") if isinstance(raw, str) else raw
    elif probe.form is not None:
        kwargs["data"] = probe.form
    elif probe.json is not None or probe.method in ("POST", "PATCH"):
        kwargs["json"] = probe.json
    return api.request(probe.method, path, **kwargs)


def _count(db: DbSession) -> dict[str, int]:
    return {
        t.__name__: db.scalar(select(func.count()).select_from(t)) or 0
        for t in (
            *CLINICAL_WRITES,
            User,
        )
    }


def test_the_corpus_is_large_and_names_are_unique() -> None:
    assert len(PROBES) >= 90
    assert len({p.name for p in PROBES}) == len(PROBES)


@pytest.mark.parametrize("probe", PROBES, ids=[p.name for p in PROBES])
def test_probe(quiet: TestClient, db: DbSession, world: World, probe: Probe) -> None:
    before = _count(db)
    response = _send(quiet, probe, world)
    assert response.status_code == probe.status, response.text[:500]
    assert _count(db) == before  # nothing clinical (or an account) was written
    if probe.status == 422 and probe.loc is not None:
        body = json.loads(response.content)  # the echo is valid UTF-8 JSON
        named = [str(e["loc"][-1]) for e in body["detail"]] + [
            str(part) for e in body["detail"] for part in e["loc"]
        ]
        assert probe.loc in named, body
        assert all(e["msg"] for e in body["detail"])


def test_no_audit_event_mentions_a_refused_write(
    quiet: TestClient, db: DbSession, world: World
) -> None:
    """A refused write leaves no trace but the refusal: no create event is recorded."""
    creates = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "create")
    before = db.scalar(creates)
    for probe in PROBES:
        if probe.method == "POST" and probe.status == 422:
            _send(quiet, probe, world)
    assert db.scalar(creates) == before
