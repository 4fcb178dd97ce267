"""The client page's figures, flags and chart data, and the metrics API's JSON, stay exactly as
they were: a guard for the performance work of issue 13 (reads bounded by the period, faster
fact loading, chart building), which must change how the outputs are made, never what they are.

The demo practice is built deterministically (a fixed day, seeded draws) and, for every demo
client, the page is rendered for a few periods and the metrics asked for a few windows. Each
output is compared, by its SHA-256 over canonical JSON (floats by ``repr``: exact to the last
bit), with ``golden/client_outputs.json``, generated from the code before that work
(commit e2f2cd9). The page entries were regenerated from e121b40 (whose outputs matched that
file) when the page's view began to keep only its period's monitoring points: they compare
the view's metrics with those points only, and every API entry kept its hash. They were
regenerated again when every chart axis gained ``ticklabeloverflow: "allow"`` (a drawing
setting; with that key removed from the chart JSON, every page entry kept its hash), and again
when the legend moved out of Plotly into HTML under each chart (the figures' layouts lost
``legend`` and gained ``showlegend: false`` and margins that fit the axes' labels; with those
three keys removed, every page entry kept its hash) and each chart's legend entries joined its
output, and again when a chart without a right-hand axis narrowed its right margin and a
long note in the middle of an empty chart took two lines (with ``margin`` removed and that
``<br>`` a space again, every entry kept its hash). To regenerate after an intended change of
output::

    GOLDEN_WRITE=1 TEST_DATABASE=sqlite .venv/bin/pytest -q tests/web/test_outputs_unchanged.py

On a mismatch the full outputs of this run are written next to the pytest temp dir (path in
the failure message), to diff against a run of the old code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.domain.facts import Source
from practice_dashboard.models import Client, User, base
from practice_dashboard.schemas.metrics import MetricsRead
from practice_dashboard.services import demo
from practice_dashboard.services.analytics import metrics as metrics_service
from practice_dashboard.services.audit import Actor
from practice_dashboard.web.routes import client_page

GOLDEN = Path(__file__).parent / "golden" / "client_outputs.json"
TODAY = date(2025, 6, 4)  # the demo's day (tests/services/demo uses the same)
# "Now": late on the demo's day, so the day's records are all in the past.
NOW = datetime(2025, 6, 4, 20, 30, tzinfo=UTC)


def _canonical(value: Any) -> str:
    def default(obj: Any) -> Any:
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
        if isinstance(obj, datetime | date):
            return obj.isoformat()
        if isinstance(obj, tuple | set | frozenset):
            return list(obj)
        return str(obj)

    return json.dumps(value, sort_keys=True, default=default, ensure_ascii=False)


class _Captured:
    """Stands in for the templates: keeps the context the client page would render."""

    def __init__(self) -> None:
        self.context: dict[str, Any] = {}

    def TemplateResponse(
        self, request: Any, name: str, context: dict[str, Any], status_code: int = 200
    ) -> None:
        self.context = context


def _page(
    db: DbSession, settings: Settings, actor: Actor, client: Client, **query: str | None
) -> dict[str, Any]:
    captured = _Captured()
    original = client_page.templates
    client_page.templates = captured  # type: ignore[assignment]
    try:
        client_page._render(
            {"request": None, "vocabulary": settings.zone_vocabulary},
            db=db,
            settings=settings,
            actor=actor,
            client_id=client.id,
            start=query.get("start"),
            end=query.get("end"),
            as_of=query.get("as_of"),
        )
    finally:
        client_page.templates = original
    ctx = captured.context
    view = ctx["view"]
    # The page keeps the monitoring charts' points of its period only (its chart draws no
    # others; the API keeps them all): compared as such, whatever the code keeps.
    monitoring = view.metrics.monitoring
    kept = {
        f.name: dataclasses.replace(
            chart, points=tuple(p for p in chart.points if p.at >= view.start)
        )
        for f in dataclasses.fields(monitoring)
        if (chart := getattr(monitoring, f.name)) is not None
    }
    metrics = dataclasses.replace(view.metrics, monitoring=dataclasses.replace(monitoring, **kept))
    return {
        "period": ctx["period"],
        "metrics_start": ctx["metrics_start"],
        "metrics_end": ctx["metrics_end"],
        "figures_current": ctx["figures_current"],
        "headlines": ctx["headlines"],
        "flag_cards": ctx["flag_cards"],
        "metrics": metrics,
        "episodes": view.episodes,
        "annotations": view.annotations,
        "charts": [
            {
                "id": c.id,
                "title": c.title,
                "summary": c.summary,
                "notes": c.notes,
                "json": c.json,
                "legend": c.legend,
            }
            for c in ctx["charts"]
        ],
    }


def _api(
    db: DbSession, settings: Settings, actor: Actor, client: Client, **query: Any
) -> dict[str, Any]:
    result = metrics_service.client_metrics(
        db,
        client_id=client.id,
        actor=actor,
        settings=settings,
        start=query.get("start"),
        end=query.get("end"),
        now=NOW,
        as_of=query.get("as_of"),
        source=query.get("source"),
    )
    dumped: dict[str, Any] = MetricsRead.model_validate(result).model_dump(mode="json")
    return dumped


class _Clock:
    """Deterministic ids for the demo load: records with the same time are ordered by id, and
    uuid7's random bits would order such ties differently on every load."""

    def __init__(self) -> None:
        self.tick = 1_700_000_000_000_000_000
        self.draws = random.Random(13)

    def time_ns(self) -> int:
        self.tick += 1_000_000
        return self.tick

    def urandom(self, n: int) -> bytes:
        return self.draws.randbytes(n)


def _outputs(db: DbSession, settings: Settings) -> dict[str, str]:
    clock = _Clock()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(base, "time", clock)
        patch.setattr(base, "os", clock)
        demo.load_demo(db, settings, today=TODAY)
        db.flush()
    users = {u.id: u for u in db.scalars(select(User))}
    digests: dict[str, str] = {}
    clients = db.scalars(select(Client).order_by(Client.display_name)).all()
    for client in clients:
        owner = Actor(users[client.practitioner_id])
        name = client.display_name
        replay_day = max(client.intake_date + timedelta(days=40), TODAY - timedelta(days=120))
        replay = min(replay_day, TODAY).isoformat()
        page_queries: dict[str, dict[str, str | None]] = {
            "6 months": {},
            "whole course": {"start": client.intake_date.isoformat()},
            "custom": {"start": (TODAY - timedelta(days=60)).isoformat(), "end": TODAY.isoformat()},
            "as_of": {"as_of": replay},
        }
        api_queries: dict[str, dict[str, Any]] = {
            "28 days": {},
            "6 months": {"start": NOW - timedelta(days=182), "end": NOW},
            "whole course": {
                "start": datetime.combine(client.intake_date, datetime.min.time(), UTC),
                "end": NOW,
            },
            "as_of": {"as_of": date.fromisoformat(replay)},
            "source client": {"source": Source.CLIENT},
        }
        for label, page_query in page_queries.items():
            out = _canonical(_page(db, settings, owner, client, **page_query))
            digests[f"{name} | page {label}"] = out
        for label, api_query in api_queries.items():
            out = _canonical(_api(db, settings, owner, client, **api_query))
            digests[f"{name} | api {label}"] = out
    # Ids differ between loads: name them by what they are.
    for client in clients:
        for key, text in digests.items():
            digests[key] = text.replace(str(client.id), f"<client {client.display_name}>")
    for user in users.values():
        for key, text in digests.items():
            digests[key] = text.replace(str(user.id), f"<user {user.email}>")
    return digests


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_client_page_and_metrics_api_outputs_unchanged(
    db: DbSession,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setattr(client_page, "utcnow", lambda: NOW)
    outputs = _outputs(db, settings)
    got = {key: _sha(text) for key, text in outputs.items()}
    if dump_to := os.environ.get("GOLDEN_DUMP"):  # the full outputs, to diff two versions
        Path(dump_to).write_text(json.dumps(outputs, indent=1, sort_keys=True))
    if os.environ.get("GOLDEN_WRITE") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    expected = json.loads(GOLDEN.read_text())
    changed = sorted(k for k in expected.keys() | got.keys() if expected.get(k) != got.get(k))
    if changed:
        dump = tmp_path / "client_outputs_actual.json"
        dump.write_text(json.dumps(outputs, indent=1, sort_keys=True))
        pytest.fail(f"{len(changed)} outputs changed, e.g. {changed[:5]}; this run's: {dump}")
    # The guard must cover something: every client, every view.
    assert len(got) == 9 * len({k.split(" | ")[0] for k in got}) > 9
