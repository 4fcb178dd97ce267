"""The page environment (web/templating.py): Jinja2's lookups, with dict keys found first."""

from __future__ import annotations

from collections import OrderedDict
from types import SimpleNamespace
from typing import Any

import jinja2
import pytest

from practice_dashboard.web.templating import PageEnvironment, templates

STOCK = jinja2.Environment(autoescape=True)
OURS = PageEnvironment(autoescape=True)

# `row.name` on what pages hand templates: plain dicts, dict subclasses, objects; names that
# are keys, names that are also dict methods, and names that are neither.
CASES: list[tuple[str, Any]] = [
    ("{{ row.client_id }}", {"client_id": "c-1"}),
    ("{{ row.missing is undefined }}", {"client_id": "c-1"}),
    ("{{ row.items is callable }} {{ row['items'] }}", {"items": [1, 2]}),
    ("{{ row.get('a') }} {{ row.keys() | list }}", {"a": 1, "get": "shadowed"}),
    ("{{ row.__class__.__name__ }}", {"__class__": "shadowed"}),
    ("{{ row.a }} {{ row.move_to_end is callable }}", OrderedDict(a=1, move_to_end=2)),
    ("{{ row.name }} {{ row.other is undefined }}", SimpleNamespace(name="n")),
    ("{{ row.nested.deeper }}", {"nested": {"deeper": "<b>escaped</b>"}}),
    ("{{ row.none is none }}", {"none": None}),
]


@pytest.mark.parametrize(("source", "row"), CASES)
def test_renders_what_jinja2_renders(source: str, row: Any) -> None:
    expected = STOCK.from_string(source).render(row=row)
    assert OURS.from_string(source).render(row=row) == expected


def test_missing_key_is_undefined_and_strict_undefined_still_raises() -> None:
    strict = PageEnvironment(undefined=jinja2.StrictUndefined)
    with pytest.raises(jinja2.UndefinedError, match="has no attribute 'missing'"):
        strict.from_string("{{ row.missing }}").render(row={"present": 1})


def test_pages_render_with_it() -> None:
    """Every page template is rendered by this environment, as Starlette would build it."""
    assert isinstance(templates.env, PageEnvironment)
    autoescape = templates.env.autoescape
    assert callable(autoescape)
    assert autoescape("client.html") is True
    assert templates.env.from_string("{{ row.name }}").render(row={"name": "<i>"}) == "&lt;i&gt;"
    assert "url_for" in templates.env.globals
