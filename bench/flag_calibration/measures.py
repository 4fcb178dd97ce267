"""False alarms of measure-based deterioration: stable clients, a year of monthly measures.

    .venv/bin/python -m bench.flag_calibration.measures --seeds 1 2 3
    .venv/bin/python -m bench.flag_calibration.measures --seeds 7 --clients 2000

Question (issue 10, DOMAIN.md §3.4, §5.6): a client whose depression or anxiety does not
change at all, measured monthly for a year, how often is the `deterioration` flag ever an
`alert` (or a `watch`) from measurement error alone? Target: ever `alert` for <= 5 % of such
clients (it was 12 % with an alert on the first reliable deterioration).

Generative model (one instrument at a time: PHQ-9, GAD-7)
--------------------------------------------------------
* Classical test theory: observed total = true total + error, reliability r = true variance /
  observed variance, which is also the test-retest correlation of two administrations. r and
  the reference SD are the registry's own (PHQ-9 r 0.84, SD 5.5; GAD-7 r 0.83, SD 5.0; the
  SDs are placeholders marked "verify" there), so the simulated error is the error the
  product's Reliable Change Index assumes.
* Each stable client has a true level per item, ``m + d_i``, fixed for the whole year: ``m``
  is the client's overall severity, Normal with mean TRUE_MEAN / items (a treatment-seeking
  population centred in the moderate band: PHQ-9 total 15, GAD-7 total 13; an assumption,
  chosen because services take referrals around the positive-screen line of 10), and ``d_i``
  (SD 0.5 answer points) makes items differ within a client.
* Each administration answers item i with ``clip(round(m + d_i + s * e_i), 0, 3)``, ``e_i``
  standard normal and independent across items and months (monthly administrations are far
  enough apart for that; serially correlated error would raise false alarms further).
* Two numbers are calibrated once per instrument, by nested bisection on 20 000 simulated
  clients with common random numbers: the item noise ``s``, so that the correlation of two
  administrations' totals equals the registry's r, and the spread of ``m``, so that one
  administration's totals have the registry's SD_ref. Then the error SD of a total is
  SD_ref x sqrt(1 - r), the standard error the product's Reliable Change Index assumes.
  Rounding and the scale's floor and ceiling are part of the noise, as they are for real
  answers. The achieved r and total SD are reported beside the results.
* A client has a baseline and 12 monthly administrations. After each one the product's own
  ``compute_client_metrics`` (domain/metrics.py) scores all administrations so far with
  ``Thresholds()`` and the convention under test, exactly as the dashboard does just after a
  measure is entered; the `deterioration` flag's level is read from its result.

Rules compared: ``first`` (``deterioration_confirmations = 1``: an alert on the first reliable
deterioration, the old behaviour) and ``confirmed`` (the default: an alert when seen at two
consecutive administrations or at twice the reliable change at once; a watch before).
Conventions: Jacobson-Truax (the default) and NHS Talking Therapies (6 PHQ-9 / 4 GAD-7 points).
Each share comes with a Wilson 95 % interval over the clients of one seed.
"""

from __future__ import annotations

import argparse
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from practice_dashboard.domain.conventions import CONVENTIONS
from practice_dashboard.domain.facts import ClientFacts, ClientStatus, MeasureFact
from practice_dashboard.domain.flags import Thresholds
from practice_dashboard.domain.instruments import GAD7, PHQ9, Instrument
from practice_dashboard.domain.metrics import compute_client_metrics

#: Administrations after the baseline: a year of monthly measures.
ADMINISTRATIONS: Final = 12
MONTH: Final = timedelta(days=30)
#: Target of issue 10: stable PHQ-9, ever `alert` for deterioration in a year.
TARGET: Final = 0.05
#: Mean true total of the simulated treatment-seeking population (see the module docstring).
TRUE_MEAN: Final = {"phq9": 15.0, "gad7": 13.0}
ITEM_SPREAD: Final = 0.5  # SD of a client's item levels around their overall level
CALIBRATION_CLIENTS: Final = 20_000
CALIBRATION_SEED: Final = 20_261_205
RULES: Final = {"first": 1, "confirmed": 2}
Z95: Final = 1.959964
START: Final = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

Array = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Population:
    """The simulated population of one instrument: level spread and calibrated item noise."""

    instrument: Instrument
    level_mean: float  # per item
    level_sd: float  # per item: SD of a client's overall level m
    noise: float  # per item: s
    retest_r: float  # achieved correlation of two administrations' totals
    total_sd: float  # achieved SD of one administration's totals


def _reliability(instrument: Instrument) -> tuple[float, float]:
    reliability = instrument.reliability
    assert reliability is not None, f"{instrument.code} has no reliability data"
    return reliability.r, reliability.sd_ref


def _answers(levels: Array, noise: float, shocks: Array, item_max: int) -> Array:
    """Item answers: levels (clients x items) plus noise, rounded and clipped to the scale."""
    out: Array = np.clip(np.rint(levels + noise * shocks), 0, item_max)
    return out


def _levels(rng: np.random.Generator, clients: int, items: int, mean: float, sd: float) -> Array:
    overall = rng.normal(mean, sd, size=(clients, 1))
    levels: Array = overall + rng.normal(0.0, ITEM_SPREAD, size=(clients, items))
    return levels


def _bisect(f: Callable[[float], float], target: float, lo: float, hi: float) -> float:
    """x in [lo, hi] with f(x) = target, for f increasing in x."""
    for _ in range(30):
        mid = (lo + hi) / 2
        if f(mid) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


@cache
def calibrate(instrument: Instrument) -> Population:
    """Level spread and item noise giving the registry's SD_ref and r (module docstring)."""
    r, sd_ref = _reliability(instrument)
    k, top = instrument.item_count, instrument.item_max
    level_mean = TRUE_MEAN[instrument.code] / k
    rng = np.random.default_rng(CALIBRATION_SEED)
    # Common random numbers: one set of draws, scaled, so both targets move smoothly.
    overall = rng.standard_normal((CALIBRATION_CLIENTS, 1))
    spread = rng.normal(0.0, ITEM_SPREAD, size=(CALIBRATION_CLIENTS, k))
    first = rng.standard_normal((CALIBRATION_CLIENTS, k))
    second = rng.standard_normal((CALIBRATION_CLIENTS, k))

    def retest(level_sd: float, noise: float) -> tuple[float, float]:
        levels = level_mean + level_sd * overall + spread
        a = _answers(levels, noise, first, top).sum(axis=1)
        b = _answers(levels, noise, second, top).sum(axis=1)
        return float(np.corrcoef(a, b)[0, 1]), float(a.std(ddof=1))

    def noise_for(level_sd: float) -> float:
        # More noise, lower correlation: bisect on minus the correlation.
        return _bisect(lambda noise: -retest(level_sd, noise)[0], -r, 0.01, 3.0)

    # More spread between clients, a larger total SD (at the r-matching noise).
    level_sd = _bisect(lambda sd: retest(sd, noise_for(sd))[1], sd_ref, 0.01, 2.0)
    noise = noise_for(level_sd)
    achieved_r, total_sd = retest(level_sd, noise)
    return Population(instrument, level_mean, level_sd, noise, achieved_r, total_sd)


def _facts(instrument: Instrument, answers: Array) -> ClientFacts:
    measures = tuple(
        MeasureFact(
            instrument.code,
            START + month * MONTH,
            tuple(int(a) for a in row),
            None,
        )
        for month, row in enumerate(answers)
    )
    return ClientFacts(
        status=ClientStatus.ACTIVE,
        intake_date=date(START.year, START.month, START.day),
        measures=measures,
    )


def _levels_seen(facts: ClientFacts, thresholds: Thresholds) -> set[str]:
    """Deterioration flag levels shown just after each administration after the baseline."""
    seen: set[str] = set()
    for month in range(1, len(facts.measures)):
        now = START + month * MONTH + timedelta(hours=1)
        metrics = compute_client_metrics(
            replace(facts, measures=facts.measures[: month + 1]),
            start=now - timedelta(days=28),
            end=now,
            now=now,
            thresholds=thresholds,
            monitoring_points_from=now,  # flags only: no chart points
        )
        seen.update(f.level for f in metrics.flags if f.code == "deterioration")
    return seen


def wilson(hits: int, n: int) -> tuple[float, float]:
    """Wilson score 95 % interval of a proportion (Wilson 1927)."""
    if n == 0:
        return math.nan, math.nan
    p = hits / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n**2)) / (1 + Z95**2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _conventions(instrument: Instrument) -> list[str]:
    return [code for code, convention in CONVENTIONS.items() if convention.covers(instrument)]


def measure_false_alarms(
    seed: int,
    clients: int,
    *,
    instruments: Sequence[Instrument] = (PHQ9, GAD7),
    base: Thresholds | None = None,
    rules: Mapping[str, int] = RULES,
) -> list[dict[str, Any]]:
    """One row per instrument, convention and rule: the share of stable clients ever shown a
    deterioration `alert` / `watch` over a baseline and 12 monthly administrations.

    ``rules`` maps a rule's name to ``deterioration_confirmations`` (default: ``first`` = 1,
    ``confirmed`` = 2)."""
    base = base if base is not None else Thresholds()
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    for instrument in instruments:
        population = calibrate(instrument)
        k = instrument.item_count
        levels = _levels(rng, clients, k, population.level_mean, population.level_sd)
        shocks = rng.standard_normal((ADMINISTRATIONS + 1, clients, k))
        answers = _answers(levels[None, :, :], population.noise, shocks, instrument.item_max)
        facts = [_facts(instrument, answers[:, c, :]) for c in range(clients)]
        for convention in _conventions(instrument):
            for rule, confirmations in rules.items():
                thresholds = replace(
                    base,
                    rci_conventions=((instrument.code, convention),),
                    deterioration_confirmations=confirmations,
                )
                alerts = watches = 0
                for client in facts:
                    seen = _levels_seen(client, thresholds)
                    alerts += "alert" in seen
                    watches += "watch" in seen
                alert_lo, alert_hi = wilson(alerts, clients)
                rows.append(
                    {
                        "instrument": instrument.code,
                        "convention": convention,
                        "rule": rule,
                        "seed": seed,
                        "clients": clients,
                        "administrations": ADMINISTRATIONS,
                        "ever_alert": alerts / clients,
                        "ever_alert_ci": (alert_lo, alert_hi),
                        "ever_watch": watches / clients,
                        "retest_r": population.retest_r,
                        "total_sd": population.total_sd,
                    }
                )
    return rows


def table(all_rows: list[dict[str, Any]]) -> str:
    keys: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in all_rows:
        keys.setdefault((row["instrument"], row["convention"], row["rule"]), []).append(row)
    head = (
        f"{'instrument':<10} {'convention':<22} {'rule':<10} {'ever alert':>11} "
        f"{'95% CI of each seed':<40} {'ever watch':>11} {'retest r':>9} {'total SD':>9}"
    )
    lines = [head, "-" * len(head)]
    for (instrument, convention, rule), rows in keys.items():
        alert = statistics.fmean(r["ever_alert"] for r in rows)  # mean over seeds
        watch = statistics.fmean(r["ever_watch"] for r in rows)
        cis = ", ".join(f"{lo:.1%}-{hi:.1%}" for lo, hi in (r["ever_alert_ci"] for r in rows))
        lines.append(
            f"{instrument:<10} {convention:<22} {rule:<10} {alert:>11.1%} {cis:<40} "
            f"{watch:>11.1%} {rows[0]['retest_r']:>9.3f} {rows[0]['total_sd']:>9.2f}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--clients", type=int, default=1_000)
    args = parser.parse_args(argv)
    rows = [row for seed in args.seeds for row in measure_false_alarms(seed, args.clients)]
    print(
        f"Stable clients, baseline + {ADMINISTRATIONS} monthly administrations, "
        f"{args.clients} clients x seeds {', '.join(map(str, args.seeds))}; "
        f"target: ever alert <= {TARGET:.0%}\n{table(rows)}"
    )


if __name__ == "__main__":
    main()
