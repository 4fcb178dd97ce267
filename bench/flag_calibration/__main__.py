"""Flag calibration: false-alarm and detection rates of ``deterioration`` (DOMAIN.md §5.6).

    .venv/bin/python -m bench.flag_calibration                 # seeds 1 2 3, 400 clients each
    .venv/bin/python -m bench.flag_calibration --fresh 3       # three new random seeds
    .venv/bin/python -m bench.flag_calibration --seeds 7 8 --clients 1000 --verify 20

Every figure comes from the product's own analytics at default settings (see
``bench/flag_calibration/recovery.py`` for the simulated courses of care and
``bench/flag_calibration/measures.py`` for the measures). Printed per scenario: the rate for
each seed, their mean and range; then the issue's targets, met or not; then a reference bound
(``oracle.py``) showing what a detector that knew each client's true usual could catch at the
same false-alarm rate.
"""

from __future__ import annotations

import argparse
import math
import os
import secrets
import statistics
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

from bench.flag_calibration import oracle
from bench.flag_calibration.measures import TARGET as MEASURE_TARGET
from bench.flag_calibration.measures import measure_false_alarms
from bench.flag_calibration.measures import table as measure_table
from bench.flag_calibration.recovery import Scenario, ScenarioResult, run_scenario, scenarios
from practice_dashboard.domain.flags import Thresholds

#: The issue's targets: (scenario name, "<=" or ">=", target share).
TARGETS: tuple[tuple[str, str, float], ...] = (
    ("stable, 2/wk, sigma 0.5, independent", "<=", 0.05),
    ("stable, 2/wk, sigma 0.5, AR(1) 0.5", "<=", 0.10),
    ("x1.5 slower, 2/wk, sigma 0.5, independent", ">=", 0.70),
    ("x2 slower, 2/wk, sigma 0.5, independent", ">=", 0.90),
    ("unrecovered 5%->50%, 2/wk, sigma 0.5, independent", ">=", 0.80),
)


def _job(args: tuple[Scenario, int, int, int, Thresholds]) -> ScenarioResult:
    sc, seed, clients, verify, th = args
    return run_scenario(sc, seed=seed, clients=clients, verify=verify, thresholds=th)


def _thresholds(overrides: Sequence[str]) -> Thresholds:
    """Thresholds() with NAME=VALUE overrides (to measure a practice's own settings)."""
    defaults = Thresholds()
    changes = {}
    for item in overrides:
        name, _, value = item.partition("=")
        changes[name] = type(getattr(defaults, name))(value)
    return replace(defaults, **changes)


def _fmt(share: float) -> str:
    return "n/a" if math.isnan(share) else f"{share:5.1%}"


def _summary(values: Sequence[float]) -> str:
    mean = statistics.fmean(values)
    return f"{mean:6.1%} [{min(values):.1%}-{max(values):.1%}]"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.flag_calibration")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--fresh", type=int, default=0, help="draw this many new seeds instead")
    parser.add_argument("--clients", type=int, default=400, help="per scenario and seed")
    parser.add_argument("--verify", type=int, default=5, help="clients replayed review by review")
    parser.add_argument("--only", default="", help="run scenarios whose name contains this")
    parser.add_argument("--no-measures", action="store_true", help="skip the PHQ-9/GAD-7 part")
    parser.add_argument("--set", nargs="*", default=[], help="threshold NAME=VALUE overrides")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    seeds = [secrets.randbelow(2**31) for _ in range(args.fresh)] if args.fresh else args.seeds
    chosen = [s for s in scenarios() if args.only in s.name]
    print(f"seeds {seeds}; {args.clients} simulated clients per scenario and seed")
    if args.set:
        print(f"thresholds changed from the defaults: {' '.join(args.set)}")
    started = time.perf_counter()
    th = _thresholds(args.set)
    jobs = [(sc, seed, args.clients, args.verify, th) for sc in chosen for seed in seeds]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        results = list(pool.map(_job, jobs, chunksize=1))
    by_name: dict[str, list[ScenarioResult]] = {}
    for r in results:
        by_name.setdefault(r.scenario.name, []).append(r)

    print()
    print("| scenario | measured over | per seed | mean [range] | before change | median delay |")
    print("|---|---|---|---|---|---|")
    mismatches = 0
    for name, rs in by_name.items():
        sc = rs[0].scenario
        mismatches += sum(r.mismatches for r in rs)
        what = (
            "ever alerted, 26 weekly reviews"
            if sc.stable
            else f"alerted within {sc.window_weeks} weeks"
        )
        delays = [r.median_delay_weeks for r in rs if r.median_delay_weeks is not None]
        print(
            f"| {name} | {what} | {' '.join(_fmt(r.rate) for r in rs)} "
            f"| {_summary([r.rate for r in rs])} "
            f"| {'' if sc.stable else _summary([r.pre_change_alerts for r in rs])} "
            f"| {'' if not delays else f'{statistics.median(delays):.1f} weeks'} |"
        )
    stable = [rs for rs in by_name.values() if rs[0].scenario.stable]
    if stable:
        print()
        print("Stable clients over a year (52 weekly reviews), ever alerted:")
        for rs in stable:
            print(f"  {rs[0].scenario.name}: {_summary([r.year_rate for r in rs])}")
        print()
        print("Recognition chart (`watch`), stable clients, ever raised over 26 weekly reviews:")
        for rs in stable:
            print(f"  {rs[0].scenario.name}: {_summary([r.recognition_watch for r in rs])}")
    print()
    print(f"Fast path vs review-by-review replay: {mismatches} disagreements")

    print()
    print("| target | scenario | target | measured (mean [range]) | met |")
    print("|---|---|---|---|---|")
    for name, op, target in TARGETS:
        if name not in by_name:
            continue
        values = [r.rate for r in by_name[name]]
        worst = max(values) if op == "<=" else min(values)
        met = worst <= target if op == "<=" else worst >= target
        kind = "false alarms" if op == "<=" else "detection"
        print(
            f"| {kind} | {name} | {op} {target:.0%} | {_summary(values)} "
            f"| {'yes' if met else 'NO'} |"
        )

    key = "stable, 2/wk, sigma 0.5, independent"
    if key in by_name:
        fa = statistics.fmean(r.rate for r in by_name[key])
        print()
        print(
            f"Reference bound (oracle.py: true usual known, same false alarms {fa:.1%}, "
            "2 episodes/week, independent noise):"
        )
        for seed in seeds:
            b = oracle.bound(seed=seed, clients=args.clients, rate=2.0, false_alarms=fa)
            print(
                f"  seed {seed}: limit {b['limit']:.1f}; x1.5 within 8 weeks {b['x1.5']:.1%}, "
                f"x2 within 6 weeks {b['x2']:.1%}, unrecovered 50% within 8 weeks "
                f"{b['unrecovered']:.1%}"
            )
    if not args.no_measures:
        rows = [row for seed in seeds for row in measure_false_alarms(seed, args.clients)]
        print()
        print(
            "Measures: stable clients, baseline + 12 monthly administrations (measurement "
            f"error only), {args.clients} clients per seed:"
        )
        print(measure_table(rows))
        default = [
            r["ever_alert"]
            for r in rows
            if (r["instrument"], r["convention"], r["rule"])
            == ("phq9", "jacobson_truax", "confirmed")
        ]
        worst = max(default)
        print(
            f"| false alarms | stable PHQ-9, monthly, ever `alert` in a year (default rule) "
            f"| <= {MEASURE_TARGET:.0%} | {_summary(default)} "
            f"| {'yes' if worst <= MEASURE_TARGET else 'NO'} |"
        )
    print()
    print(f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
