"""gzip on the wire: pages, JSON, CSV and static files; and what must not be compressed.

Every compressed answer is checked against the same request answered without compression:
the bytes after gunzip are the same (RFC 9110 §8.4: Content-Encoding changes the bytes sent,
not the representation), and Content-Length is the length of what was sent.
"""

from __future__ import annotations

import gzip
import os
import re
import tempfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from practice_dashboard.compression import (
    MINIMUM_SIZE,
    PrecompressedStaticFiles,
    ResponseCompression,
    accepts_gzip,
    precompress,
)
from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import Client, User
from practice_dashboard.security import csrf_token_matches
from practice_dashboard.web.templating import STATIC_DIR, asset_url, plotly_url
from tests.builders import (
    NOW,
    auth_headers,
    make_client,
    make_observation,
    make_user,
    sign_in,
)
from tests.html import parse

GZIP = {"Accept-Encoding": "gzip"}
IDENTITY = {"Accept-Encoding": "identity"}
_CSRF_VALUE = re.compile(rb'(name="csrf_token" value=")[^"]*(")')


def raw_get(api: TestClient, url: str, headers: dict[str, str]) -> tuple[Headers, bytes]:
    """Status-checked headers and the bytes as they came over the wire (not decoded)."""
    with api.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200, url
        body = b"".join(response.iter_raw())
        return Headers(raw=list(response.headers.raw)), body


def assert_gzipped_copy(api: TestClient, url: str, headers: dict[str, str]) -> bytes:
    """The gzip answer decompresses to the plain answer; returns the plain bytes."""
    zipped_headers, zipped = raw_get(api, url, {**headers, **GZIP})
    plain_headers, plain = raw_get(api, url, {**headers, **IDENTITY})
    assert zipped_headers["content-encoding"] == "gzip", url
    assert "accept-encoding" in zipped_headers["vary"].lower(), url
    if "content-length" in zipped_headers:  # absent on a streamed answer
        assert int(zipped_headers["content-length"]) == len(zipped), url
    assert "content-encoding" not in plain_headers, url
    assert len(zipped) < len(plain), url
    # The masked CSRF token is new in every page (that is its point): compared without it.
    assert _CSRF_VALUE.sub(rb"\1\2", gzip.decompress(zipped)) == _CSRF_VALUE.sub(rb"\1\2", plain)
    return plain


@pytest.fixture
def owner(db: DbSession, settings: Settings) -> User:
    return make_user(db, settings, full_name="Tess Therapist")


@pytest.fixture
def client(db: DbSession, owner: User) -> Client:
    client = make_client(db, owner, display_name="Ana P")
    for hours in range(1, 13):
        make_observation(db, client, observed_at=NOW.replace(hour=hours), notes="steady " * 8)
    return client


class TestAnswersOfTheApp:
    def test_a_page_is_gzipped(self, api: TestClient) -> None:
        page = assert_gzipped_copy(api, "/login", {})
        assert b'<form method="post" action="/login"' in page

    def test_the_client_page_is_gzipped(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        # Compared by its charts: some words on it follow the clock ("… days ago").
        sign_in(api, db, settings, owner)
        url = f"/clients/{client.id}"
        zipped_headers, zipped = raw_get(api, url, GZIP)
        assert zipped_headers["content-encoding"] == "gzip"
        assert int(zipped_headers["content-length"]) == len(zipped)
        _, plain = raw_get(api, url, IDENTITY)
        assert len(zipped) * 3 < len(plain)

        def charts(html: bytes) -> dict[str, str]:
            found = parse(html.decode()).find_all("script", type="application/json")
            return {node.attrs["data-chart"]: node.text for node in found}

        assert charts(gzip.decompress(zipped)) == charts(plain)
        assert "chart-states" in charts(plain)

    def test_a_json_answer_is_gzipped(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        url = f"/api/v1/clients/{client.id}/observations"
        plain = assert_gzipped_copy(api, url, auth_headers(settings, owner))
        assert plain.startswith(b'{"items":')

    def test_a_streamed_csv_export_is_gzipped_as_it_streams(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        sign_in(api, db, settings, owner)
        url = f"/clients/{client.id}/export.csv?kind=observations"
        zipped_headers, _ = raw_get(api, url, GZIP)
        assert zipped_headers["content-type"] == "text/csv; charset=utf-8"
        plain = assert_gzipped_copy(api, url, {})
        assert plain.count(b"\n") == 1 + 12

    def test_head_answers_headers_only(self, api: TestClient) -> None:
        response = api.head("/openapi.json", headers=GZIP)
        assert response.status_code == 200
        assert response.content == b""

    def test_without_gzip_nothing_is_compressed(self, api: TestClient) -> None:
        for accept in ("identity", "gzip;q=0", "br"):
            response = api.get("/openapi.json", headers={"Accept-Encoding": accept})
            assert "content-encoding" not in response.headers, accept


class TestStaticFiles:
    @pytest.mark.parametrize("asset", ["plotly", "js/app.js", "css/app.css"])
    def test_the_precompressed_copy_is_sent(self, api: TestClient, asset: str) -> None:
        url = plotly_url() if asset == "plotly" else asset_url(asset)
        path = STATIC_DIR / url.removeprefix("/static/").partition("?")[0]
        zipped_headers, zipped = raw_get(api, url, GZIP)
        assert zipped_headers["content-encoding"] == "gzip"
        assert zipped_headers["vary"] == "Accept-Encoding"
        assert int(zipped_headers["content-length"]) == len(zipped)
        assert zipped_headers["content-type"].startswith(("text/javascript", "text/css"))
        assert "immutable" in zipped_headers["cache-control"]
        assert gzip.decompress(zipped) == path.read_bytes()
        plain_headers, plain = raw_get(api, url, IDENTITY)
        assert plain == path.read_bytes()
        assert "content-encoding" not in plain_headers
        # Two representations, two validators: a cache never swaps one for the other.
        assert plain_headers["etag"] != zipped_headers["etag"]

    def test_revalidation_and_head(self, api: TestClient) -> None:
        url = asset_url("js/app.js")
        etag = api.get(url, headers=GZIP).headers["etag"]
        again = api.get(url, headers={**GZIP, "If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b""
        head = api.head(url, headers=GZIP)
        assert head.status_code == 200
        assert head.headers["content-encoding"] == "gzip"
        assert head.headers["etag"] == etag
        assert head.content == b""


class TestPrecompress:
    def test_copies_text_files_once_and_skips_small_and_binary_ones(self, tmp_path: Path) -> None:
        script = tmp_path / "js" / "a.js"
        script.parent.mkdir()
        script.write_text("var x = 1;\n" * 300)
        (tmp_path / "tiny.css").write_text("a{}")
        (tmp_path / "logo.png").write_bytes(b"\x89PNG" + bytes(4000))
        assert precompress(tmp_path) == 1
        assert gzip.decompress((tmp_path / "js" / "a.js.gz").read_bytes()) == script.read_bytes()
        assert sorted(p.name for p in tmp_path.rglob("*.gz")) == ["a.js.gz"]
        assert precompress(tmp_path) == 0  # fresh: nothing to do

    def test_an_edited_file_is_sent_as_it_is_until_its_copy_is_remade(self, tmp_path: Path) -> None:
        script = tmp_path / "a.js"
        script.write_text("var x = 1;\n" * 300)
        precompress(tmp_path)
        script.write_text("var y = 2;\n" * 300)
        # The copy was made before the edit.
        earlier = script.stat().st_mtime - 10
        os.utime(tmp_path / "a.js.gz", (earlier, earlier))
        app = Starlette()
        app.mount("/static", PrecompressedStaticFiles(directory=tmp_path))
        with TestClient(app) as api:
            stale = api.get("/static/a.js", headers=GZIP)
            assert "content-encoding" not in stale.headers
            assert stale.text.startswith("var y")
            assert precompress(tmp_path) == 1
            fresh = api.get("/static/a.js", headers=GZIP)
            assert fresh.headers["content-encoding"] == "gzip"
            assert fresh.text.startswith("var y")

    def test_a_read_only_folder_is_not_an_error(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        (tmp_path / "a.js").write_text("var x = 1;\n" * 300)

        def read_only(*_args: object, **_kwargs: object) -> tuple[int, str]:
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(tempfile, "mkstemp", read_only)
        assert precompress(tmp_path) == 0
        assert list(tmp_path.rglob("*.gz")) == []


class TestWhatIsCompressed:
    @staticmethod
    def _app() -> TestClient:
        body = b"x" * (MINIMUM_SIZE * 4)

        def answer(request: Request) -> Response:
            kind = request.query_params.get("type", "text/html")
            size = int(request.query_params.get("size", len(body)))
            return Response(body[:size], media_type=kind)

        routes = [Route("/page", answer), Route("/account/mfa", answer)]
        return TestClient(ResponseCompression(Starlette(routes=routes)))

    @pytest.mark.parametrize(
        ("url", "compressed"),
        [
            ("/page", True),
            ("/page?type=application/json", True),
            ("/page?type=text/csv", True),
            # Compressed inside already: gzip costs time and saves nothing.
            ("/page?type=application/pdf", False),
            ("/page?type=image/png", False),
            # Too small to be worth a gzip header.
            (f"/page?size={MINIMUM_SIZE - 1}", False),
            # Shows the new TOTP key next to what was typed: never compressed (BREACH).
            ("/account/mfa", False),
        ],
    )
    def test_by_type_size_and_path(self, url: str, compressed: bool) -> None:
        with self._app() as api:
            response = api.get(url, headers=GZIP)
        assert response.status_code == 200
        assert (response.headers.get("content-encoding") == "gzip") is compressed


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("br;q=1.0, gzip;q=0.8", True),
        ("*", True),
        ("gzip;q=0", False),
        ("gzip;q=0, *", False),
        ("*;q=0", False),
        ("identity", False),
        ("", False),
        ("deflate, br", False),
    ],
)
def test_accepts_gzip(header: str, expected: bool) -> None:
    assert accepts_gzip(Headers({"accept-encoding": header})) is expected


class TestBreach:
    """A compressed page must not carry the same secret beside text a visitor can put in it."""

    def test_each_page_carries_the_login_token_masked_afresh(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        raw = sign_in(api, db, settings, owner)
        seen = []
        for _ in range(2):
            page = api.get(f"/clients/{client.id}/observations/new", headers=GZIP)
            assert page.headers["content-encoding"] == "gzip"
            assert raw not in page.text
            form = parse(page.text).find("input", name="csrf_token")
            seen.append(form.attrs["value"])
        assert seen[0] != seen[1]
        assert all(csrf_token_matches(raw, value) for value in seen)

    def test_a_masked_token_from_the_page_is_accepted(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        sign_in(api, db, settings, owner)
        page = parse(api.get(f"/clients/{client.id}").text)
        token = page.find("form", action="/logout").find("input", name="csrf_token")
        assert (
            api.post("/logout", data={"csrf_token": "x" + token.attrs["value"]}).status_code == 403
        )
        response = api.post(
            "/logout", data={"csrf_token": token.attrs["value"]}, follow_redirects=False
        )
        assert response.status_code == 303
