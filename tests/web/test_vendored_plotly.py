"""The vendored plotly.js bundle: the pinned version, its licence, served from /static."""

from __future__ import annotations

import re
from typing import Final

from fastapi.testclient import TestClient

from practice_dashboard.web.printing import PRINT_ASSETS
from practice_dashboard.web.templating import PLOTLY_JS, plotly_url

#: The plotly.js the charts are drawn with; scripts/vendor_plotly.sh fetches it.
PACKAGE: Final = "plotly.js-basic-dist-min"
VERSION: Final = "4.1.1"


def test_the_bundle_is_the_pinned_version() -> None:
    header = PLOTLY_JS.read_text(encoding="utf-8")[:200]
    assert f"* plotly.js (basic - minified) v{VERSION}\n" in header
    note = (PLOTLY_JS.parent / "VERSION").read_text(encoding="utf-8")
    assert note.startswith(f"{PACKAGE} {VERSION} from the npm registry")
    assert re.search(r"integrity sha512-[A-Za-z0-9+/=]{80,}", note)


def test_its_licence_is_beside_it() -> None:
    licence = (PLOTLY_JS.parent / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("MIT License")
    assert "Plotly" in licence
    assert "Permission is hereby granted, free of charge" in licence


def test_it_is_served_with_a_content_hash_and_kept_for_a_year(api: TestClient) -> None:
    url = plotly_url()
    assert re.fullmatch(r"/static/vendor/plotly/plotly-basic\.min\.js\?v=[0-9a-f]{12}", url)
    response = api.get(url)
    assert response.status_code == 200
    assert response.content == PLOTLY_JS.read_bytes()
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_the_pdf_gets_the_same_bundle() -> None:
    assert PRINT_ASSETS[PLOTLY_JS.name] == PLOTLY_JS
