"""Client-reported records (check-in link) stay marked in the CSV and FHIR exports."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import Client, Episode, User
from practice_dashboard.models.enums import Source
from tests.builders import auth_headers, make_client, make_episode, make_user


@pytest.fixture
def owner(db: DbSession, settings: Settings) -> User:
    return make_user(db, settings)


@pytest.fixture
def episodes(db: DbSession, owner: User) -> tuple[Client, Episode, Episode]:
    client = make_client(db, owner)
    by_client = make_episode(db, client, source=Source.CLIENT, recorded_by_id=None)
    by_practitioner = make_episode(db, client, recorded_by_id=owner.id)
    db.commit()
    return client, by_client, by_practitioner


def test_episode_csv_carries_the_source(
    api: TestClient,
    settings: Settings,
    owner: User,
    episodes: tuple[Client, Episode, Episode],
) -> None:
    client, by_client, by_practitioner = episodes
    response = api.get(
        f"/api/v1/clients/{client.id}/export.csv?kind=episodes",
        headers=auth_headers(settings, owner),
    )
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert {row["id"]: row["source"] for row in rows} == {
        str(by_client.id): "client",
        str(by_practitioner.id): "practitioner",
    }


def test_fhir_performer_is_the_patient_for_the_clients_own_report(
    api: TestClient,
    settings: Settings,
    owner: User,
    episodes: tuple[Client, Episode, Episode],
) -> None:
    client, by_client, by_practitioner = episodes
    response = api.get(
        f"/api/v1/clients/{client.id}/export.fhir.json", headers=auth_headers(settings, owner)
    )
    assert response.status_code == 200
    bundle: dict[str, Any] = response.json()
    resources = {e["resource"]["id"]: e["resource"] for e in bundle["entry"]}
    patient = next(
        e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    own = resources[str(by_client.id)]
    assert own["performer"] == [{"reference": patient}]
    assert own["method"]["coding"][0]["code"] == "self-report"
    entered = resources[str(by_practitioner.id)]
    assert entered["performer"] == [{"reference": f"urn:uuid:{owner.id}"}]
    assert entered["method"]["coding"][0]["code"] == "practitioner-observation"
