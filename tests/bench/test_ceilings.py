"""bench.ceilings: which statements its raw-SQL ceiling replays, the size of its DB+template
page, and a smoke run of the whole table (numbers present, no timing asserted)."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime

import pytest
from bench.ceiling_app import SizedJson, SizedPage
from bench.ceiling_probes import CHROMIUM
from bench.ceilings import page_reads

from tests import databases
from tests.bench.quick import run_bench, table_rows

NUMBER = re.compile(r"\d+(\.\d+)?")


class TestPageReads:
    def test_keeps_the_page_reads_and_names_what_it_leaves_out(self) -> None:
        seen = [
            ("BEGIN", ()),
            ("SELECT login_session.id FROM login_session WHERE token_hash = ?", ("h",)),
            ("SELECT client.id FROM client WHERE client.id = ?", ("c",)),
            ("SELECT ? AS anon_1, episode.started_at FROM episode WHERE x", (0,)),
            ('SELECT "user".full_name FROM "user" WHERE id IN (?)', ("u",)),
            ("BEGIN IMMEDIATE", ()),
            ("SELECT pg_advisory_xact_lock(%(k)s) AS pg_advisory_xact_lock_1", {"k": 1}),
            ("SELECT audit_event.seq FROM audit_event ORDER BY seq DESC LIMIT ?", (1,)),
            ("INSERT INTO audit_event (id) VALUES (?)", ("a",)),
        ]
        kept, tables, left_out = page_reads(seen)
        assert [s for s, _ in kept] == [seen[2][0], seen[3][0], seen[4][0]]
        # A user read after the page's first read is page data (a name shown), not sign-in.
        assert tables == ["client", "episode", "user"]
        assert left_out == [
            "BEGIN",
            "sign-in (login_session)",
            "BEGIN",
            "no table (pg_advisory_xact_lock)",
            "audit read (audit_event)",
            "INSERT audit_event",
        ]


class TestSizedPage:
    @pytest.mark.parametrize("size", [400, 5_000, 68_000])
    def test_renders_exactly_the_product_page_size(self, size: int) -> None:
        rows = [(n, f"2026-06-{n % 28 + 1:02d}", "within", 4.5) for n in range(50)]
        page = SizedPage("client", size, rows)
        assert len(page.render(rows)) == size

    def test_escapes_what_it_renders(self) -> None:
        page = SizedPage("client", 2_000, [("<b>",)])
        assert b"<b>" not in page.render([("<b>",)])


class TestSizedJson:
    @pytest.mark.parametrize("size", [400, 5_000, 68_000])
    def test_renders_json_of_exactly_the_product_response_size(self, size: int) -> None:
        rows = [(n, datetime(2026, 6, n % 28 + 1, tzinfo=UTC), "within", 4.5) for n in range(50)]
        body = SizedJson("metrics", size, rows).render(rows)
        assert len(body) == size
        decoded = json.loads(body)
        # Rows as arrays, a time as ISO 8601 text (as the API writes it), cycled to fill.
        assert decoded["rows"][0] == [0, "2026-06-01T00:00:00Z", "within", 4.5]
        assert len(decoded["rows"]) > (50 if size > 10_000 else 0)


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which(CHROMIUM), reason=f"no Chromium at {CHROMIUM}")
def test_quick_run_prints_every_row_with_numbers() -> None:
    engine = databases.test_backend()
    output = run_bench("bench.ceilings", "--quick", "--db", engine, "--clients", "3", timeout=600)
    rows = table_rows(output, 6)
    expected = ["1", "2", "3", "4", "5", "7", "8a", "8b", "8c", "8d", "9", "10a", "10b"]
    floors = ["1f", "1j", "1s", "1e", "2f", "2s"]
    if engine == "postgresql":
        expected.append("6")
    for row in expected + floors:
        assert row in rows, f"row {row} missing:\n{output}"
        _label, product, ceiling, ratio, _target, verdict = rows[row][:6]
        assert NUMBER.search(product), (row, product)
        assert verdict in (("floor",) if row in floors else ("met", "not met")), (row, verdict)
        if row != "7":  # the wire has a target, no ceiling
            assert NUMBER.search(ceiling), (row, ceiling)
            assert NUMBER.search(ratio), (row, ratio)
    assert "raw SQL ceiling =" in output
