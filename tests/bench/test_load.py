"""bench.load's arithmetic: pooled rounds, the median round's rate, ratios against one caller."""

from __future__ import annotations

import os
from collections import Counter

import pytest
from bench.load import Step, machine_cpu_seconds, scaling, server_cpu_seconds


def round_of(ok: int, wall_s: float, *, shed: int = 0, server_cpu_s: float = 1.0) -> Step:
    return Step(
        latencies_s=[0.01] * (ok + shed),
        ok_latencies_s=[0.01] * ok,
        statuses=Counter({200: ok, 503: shed}),
        wall_s=wall_s,
        server_cpu_s=server_cpu_s,
    )


def test_rounds_pool_their_counts_and_report_the_median_rounds_rate() -> None:
    step = Step()
    for ok in (30, 10, 20):
        step.add(round_of(ok, wall_s=1.0, shed=2))
    assert step.answered == 66
    assert step.statuses == Counter({200: 60, 503: 6})
    assert step.ok_per_second == 20.0  # the median of 30, 10 and 20 per second, not the mean
    assert step.server_cpu_s == 3.0
    assert step.cpu_ms_per_ok == "50.0"  # 3 s of server CPU over 60 OK answers


def test_a_single_run_reports_its_own_rate() -> None:
    assert round_of(50, wall_s=2.0).ok_per_second == 25.0


def test_scaling_divides_round_by_round() -> None:
    one, many = Step(), Step()
    for alone, busy in ((10, 12), (20, 18), (10, 10)):
        one.add(round_of(alone, wall_s=1.0))
        many.add(round_of(busy, wall_s=1.0))
    line = scaling("x", {1: one, 64: many})
    # Ratios 1.2, 0.9 and 1.0: the median and the range.
    assert line == "x: throughput 64 ÷ 1 = 1.000 (0.900–1.200)"


def test_scaling_needs_a_one_caller_step() -> None:
    assert "no one-caller step" in scaling("x", {16: Step()})


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="Linux /proc only")
def test_cpu_readings_come_from_proc() -> None:
    busy, total = machine_cpu_seconds()
    assert 0 < busy <= total
    own = server_cpu_seconds(os.getpid())
    assert own is not None
    assert own > 0
