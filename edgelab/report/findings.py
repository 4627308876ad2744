"""Plain-language findings per variant, written only from the numbers in its summary row.

    findings_for(row, all_rows, best)
    # ["dns-failover kept 97.0% of users' requests working during the fault, but sent the
    #   origin 6.1× its pre-fault load (2.3× its capacity) and let 340 attack requests reach it."]

Each clause appears only when the number behind it exists; nothing is said about what the run
did not measure. Wording is deliberately flat: the reader compares numbers, not adjectives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from edgelab.report.model import COLUMNS, VariantSummary

AMPLIFIED = 1.5
"""Origin peak / baseline above this is worth saying ("sent the origin 3.0× its load")."""


def pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def _num(x: float) -> str:
    return f"{x:.1f}" if x < 10 else f"{x:.0f}"


def secs(x: float) -> str:
    """Lab seconds: whole when whole, else one decimal ("2.5 s", "3 s")."""
    return f"{x:.0f} s" if abs(x - round(x)) < 0.05 else f"{x:.1f} s"


def real(seconds: float) -> str:
    """Real-world duration, in the unit a person would use."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}".removesuffix(".0") + " min"
    return f"{seconds / 3600:.1f}".removesuffix(".0") + " h"


def when(lab_s: float, compression: float) -> str:
    """A lab duration, with what it stands for in real time when time was compressed."""
    if compression == 1:
        return secs(lab_s)
    return f"{secs(lab_s).replace(' s', ' lab s')} (≈ {real(lab_s * compression)} real)"


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}" + ("" if n == 1 else "s")


def headline(v: VariantSummary) -> str:
    """The one sentence: availability, what the origin took, attacks that reached it."""
    if v.requests == 0:
        return f"{v.name}: no user requests were recorded, so nothing can be said about it."
    if v.availability_in_window == 0:
        first = f"{v.name} failed every user request during the fault"
    elif v.availability_in_window is not None:
        first = f"{v.name} kept {pct(v.availability_in_window)} of users' requests working during the fault"
    elif v.availability_overall is not None:
        first = f"{v.name} kept {pct(v.availability_overall)} of users' requests working (no fault window)"
    else:  # pragma: no cover - requests > 0 implies an overall availability
        first = v.name
    costs: list[str] = []
    o = v.origin
    if o.peak_vs_baseline is not None and o.peak_vs_baseline >= AMPLIFIED:
        load = f"sent the origin {_num(o.peak_vs_baseline)}× its pre-fault load"
        if o.peak_vs_capacity is not None:
            load += f" ({_num(o.peak_vs_capacity)}× its capacity)"
        costs.append(load)
    elif o.peak_vs_capacity is not None and o.peak_vs_capacity > 1:
        costs.append(f"pushed the origin to {_num(o.peak_vs_capacity)}× its capacity")
    it = "it" if costs else "the origin"
    if o.shed_total:
        costs.append(f"made {it} shed {_count(o.shed_total, 'request')} with 503")
        it = "it"
    attacks = v.attack_requests_to_origin
    if attacks and v.attack_source == "origin-metric":
        costs.append(f"let {_count(attacks, 'attack request')} reach {it}")
    elif attacks:
        costs.append(f"sent {_count(attacks, 'attack request')} straight to {it}")
    if not costs:
        return first + "."
    joined = costs[0] if len(costs) == 1 else ", ".join(costs[:-1]) + " and " + costs[-1]
    good = (v.availability_in_window or v.availability_overall or 0) >= 0.95
    return f"{first}, {'but' if good else 'and'} {joined}."


def timeline(v: VariantSummary, compression: float = 1.0) -> str | None:
    """Detect / mitigate / recover, in lab seconds (and real time), as far as measured."""
    if v.fault_window is None:
        return None
    parts: list[str] = []
    if v.time_to_detect_s is not None:
        parts.append(f"a probe caught the fault after {when(v.time_to_detect_s, compression)}")
    if v.time_to_mitigate_s is not None:
        how = {
            "traffic-moved": "traffic moved off its usual path",
            "artifact-rejected": "the edge rejected the bad artifact",
            "journal": "a mitigation was journaled",
        }[v.mitigated_by or "journal"]
        parts.append(f"{how} after {when(v.time_to_mitigate_s, compression)}")
    if v.recovered is True and v.time_to_recover_s is not None:
        parts.append(
            "it was healthy as soon as the fault ended"
            if v.time_to_recover_s == 0
            else f"it recovered {when(v.time_to_recover_s, compression)} after the fault ended"
        )
    elif v.recovered is False:
        parts.append("it had not recovered by the end of the load")
    if not parts:
        return None
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def ranking(v: VariantSummary, best: Mapping[str, Sequence[str]]) -> str | None:
    """Which columns this variant was best in, if any."""
    labels = [c.label for c in COLUMNS if v.name in best.get(c.key, ())]
    if not labels:
        return None
    return "Best of all variants in: " + ", ".join(labels) + "."


def findings_for(
    v: VariantSummary,
    rows: Sequence[VariantSummary],
    best: Mapping[str, Sequence[str]],
    compression: float = 1.0,
) -> list[str]:
    """The findings shown under the table for variant `v` (`rows`: every variant's row;
    `compression`: real seconds per lab second)."""
    out = [headline(v)]
    for extra in (timeline(v, compression), ranking(v, best) if len(rows) > 1 else None):
        if extra:
            out.append(extra)
    if not v.complete:
        out.append("This variant did not finish: its numbers cover only what was recorded.")
    return out
