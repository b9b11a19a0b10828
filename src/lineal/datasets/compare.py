"""Compare two dataset descriptions: columns added, removed, retyped, and distributions moved.

Only descriptions are compared, never the data, so two versions can be diffed long after the
frames are gone. A column's shift score is the largest of standardised effect sizes, so one
threshold fits every kind of column (Cohen's conventions: 0.2 small, 0.5 medium, 0.8 large):

- location: ``|mean_b - mean_a| / sqrt((std_a**2 + std_b**2) / 2)`` (Cohen's d);
- spread: ``|ln(std_b / std_a)|`` (0.69 for a doubled spread, 0.79 for kg -> lb);
- missing values: Cohen's h between the missing fractions, ``|2 asin sqrt(p_b) - 2 asin sqrt(p_a)|``;
- categories (strings, booleans, categoricals): the largest Cohen's h between the shares of
  any top value, or of all other values together.

A column is *flagged* when its score reaches ``threshold`` (0.5 by default). The ``reason``
says what moved in words. When the mean and every recorded quantile (p5..p95) of the new
version are the old ones times one factor clearly different from 1 (plus an offset), within
the sampling noise of two samples of their size (about ``4 / sqrt(n)`` standard deviations),
it says the change looks like a unit or scale change, and names the conversion when the factor
is a common one (kg -> lb, cm -> in, C -> F...): so a column whose unit silently changed stands
out even when the new version holds other rows than the old one. Min and max are not used for
this (the extremes of two samples differ far more than their quantiles). Scores are capped at
:data:`MAX_SCORE` so they stay JSON numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .description import DatasetDescription
from .profile import QUANTILES, ColumnProfile, json_value

__all__ = ["DEFAULT_THRESHOLD", "MAX_SCORE", "ColumnShift", "DatasetDiff", "diff"]

DEFAULT_THRESHOLD = 0.5
MAX_SCORE = 100.0
# Factor, offset, and what such a change usually is. Matched within 1%.
_KNOWN_CONVERSIONS: tuple[tuple[float, float, str], ...] = (
    (2.20462, 0.0, "kg -> lb"),
    (1 / 2.20462, 0.0, "lb -> kg"),
    (2.54, 0.0, "in -> cm"),
    (1 / 2.54, 0.0, "cm -> in"),
    (3.28084, 0.0, "m -> ft"),
    (0.3048, 0.0, "ft -> m"),
    (1.60934, 0.0, "mi -> km"),
    (1 / 1.60934, 0.0, "km -> mi"),
    (28.3495, 0.0, "oz -> g"),
    (1 / 28.3495, 0.0, "g -> oz"),
    (1.8, 32.0, "C -> F"),
    (1 / 1.8, -32.0 / 1.8, "F -> C"),
    (1.0, 273.15, "C -> K"),
    (1.0, -273.15, "K -> C"),
    (1000.0, 0.0, "x1000: e.g. kg -> g, s -> ms, km -> m"),
    (0.001, 0.0, "/1000: e.g. g -> kg, ms -> s, m -> km"),
    (100.0, 0.0, "x100: e.g. fraction -> percent, m -> cm"),
    (0.01, 0.0, "/100: e.g. percent -> fraction, cm -> m"),
    (60.0, 0.0, "x60: e.g. min -> s, h -> min"),
    (1 / 60, 0.0, "/60: e.g. s -> min, min -> h"),
    (3600.0, 0.0, "h -> s"),
    (1 / 3600, 0.0, "s -> h"),
    (1e6, 0.0, "x1e6: e.g. s -> us, MB -> B"),
    (1e-6, 0.0, "/1e6: e.g. us -> s"),
    (1e9, 0.0, "x1e9: e.g. s -> ns"),
    (1e-9, 0.0, "/1e9: e.g. ns -> s"),
)


@dataclass(frozen=True)
class ColumnShift:
    """How one column present in both versions changed.

    ``changes`` maps each metric that differs (``mean``, ``std``, ``min``, ``max``,
    ``null_fraction``, ``distinct_count``, ``top_values``) to ``(old, new)``.
    """

    name: str
    changes: dict[str, tuple[Any, Any]]
    score: float
    flagged: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return {
            "name": self.name,
            "changes": {k: [_json(old), _json(new)] for k, (old, new) in self.changes.items()},
            "score": json_value(self.score),
            "flagged": self.flagged,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class DatasetDiff:
    """The differences between two dataset descriptions (``a`` old, ``b`` new).

    ``column_shifts`` lists every common column whose statistics changed at all, flagged or
    not; :attr:`flagged` keeps the ones that moved a lot.
    """

    same_content: bool
    added_columns: list[str]
    removed_columns: list[str]
    retyped_columns: list[tuple[str, str, str]]
    row_count: tuple[int, int]
    column_shifts: list[ColumnShift] = field(default_factory=list)

    def __repr__(self) -> str:
        return (f"<DatasetDiff rows {self.row_count[0]} -> {self.row_count[1]}, +{len(self.added_columns)} "
                f"-{len(self.removed_columns)} columns, {len(self.column_shifts)} shifted>")

    @property
    def flagged(self) -> list[ColumnShift]:
        """The column shifts whose score reached the threshold."""
        return [s for s in self.column_shifts if s.flagged]

    def _repr_html_(self) -> str:
        from ..notebook import answer_html

        return answer_html(self)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return {
            "same_content": self.same_content,
            "added_columns": list(self.added_columns),
            "removed_columns": list(self.removed_columns),
            "retyped_columns": [list(r) for r in self.retyped_columns],
            "row_count": list(self.row_count),
            "column_shifts": [s.to_dict() for s in self.column_shifts],
        }


def diff(
    a: DatasetDescription, b: DatasetDescription, *, threshold: float = DEFAULT_THRESHOLD
) -> DatasetDiff:
    """What changed from description ``a`` (old) to ``b`` (new).

    ``retyped_columns`` compares schema type strings, which keep widths and units, while
    ``same_content`` compares digests, which do not: int32 -> int64 with equal values is
    retyped yet the same content.

    >>> d = diff(describe(old_df), describe(new_df))  # doctest: +SKIP
    >>> [(s.name, s.reason) for s in d.flagged]  # doctest: +SKIP
    [('weight', 'mean x2.20, std x2.20: looks like a unit or scale change (kg -> lb)')]
    """
    old_types = {c.name: c.type for c in a.schema}
    new_types = {c.name: c.type for c in b.schema}
    old_profiles = {c.name: c for c in a.columns}
    new_profiles = {c.name: c for c in b.columns}
    shifts = []
    for name in new_types:
        if name in old_profiles and name in new_profiles:
            shift = _column_shift(
                old_profiles[name], new_profiles[name], a.num_rows, b.num_rows, threshold
            )
            if shift is not None:
                shifts.append(shift)
    return DatasetDiff(
        same_content=a.digest == b.digest,
        added_columns=[n for n in new_types if n not in old_types],
        removed_columns=[n for n in old_types if n not in new_types],
        retyped_columns=[
            (n, old_types[n], t) for n, t in new_types.items() if n in old_types and old_types[n] != t
        ],
        row_count=(a.num_rows, b.num_rows),
        column_shifts=shifts,
    )


def _json(value: Any) -> Any:
    if isinstance(value, list):
        return [_json(v) for v in value]
    if isinstance(value, tuple):
        return [_json(v) for v in value]
    return json_value(value)


def _fraction(count: int, total: int) -> float:
    return count / total if total else 0.0


def _cohen_h(p: float, q: float) -> float:
    return abs(2 * math.asin(math.sqrt(p)) - 2 * math.asin(math.sqrt(q)))


def _num(x: float) -> str:
    return f"{x:.4g}"


def _column_shift(
    old: ColumnProfile, new: ColumnProfile, rows_a: int, rows_b: int, threshold: float
) -> ColumnShift | None:
    changes: dict[str, tuple[Any, Any]] = {}
    for metric in ("mean", "std", "min", "max", "distinct_count"):
        before, after = getattr(old, metric), getattr(new, metric)
        if before != after:
            changes[metric] = (before, after)
    null_a, null_b = _fraction(old.null_count, rows_a), _fraction(new.null_count, rows_b)
    if null_a != null_b:
        changes["null_fraction"] = (null_a, null_b)
    top_a, top_b = _shares(old, rows_a), _shares(new, rows_b)
    if top_a != top_b:
        changes["top_values"] = (old.top_values, new.top_values)
    if not changes:
        return None

    # Each component: (score, sentence). The reason lists the big ones, or the biggest.
    parts: list[tuple[float, str]] = []
    if old.is_numeric and new.is_numeric:
        present = min(rows_a - old.null_count, rows_b - new.null_count)
        parts.extend(_numeric_parts(old, new, present))
    if null_a != null_b:
        parts.append(
            (_cohen_h(null_a, null_b), f"missing values {null_a:.1%} -> {null_b:.1%}")
        )
    if (old.top_values or new.top_values) and top_a != top_b:
        parts.append(_category_part(old, new, top_a, top_b))
    score = min(MAX_SCORE, max((s for s, _ in parts), default=0.0))
    flagged = score >= threshold
    big = [text for s, text in sorted(parts, key=lambda p: -p[0]) if s >= threshold]
    if big:
        reason = "; ".join(big)
    elif parts:
        reason = "small change: " + max(parts, key=lambda p: p[0])[1]
    else:
        reason = "changed: " + ", ".join(sorted(changes))
    return ColumnShift(new.name, changes, score, flagged, reason)


def _numeric_parts(old: ColumnProfile, new: ColumnProfile, present: int) -> list[tuple[float, str]]:
    """Location and spread components, or one "unit or scale change" component when the new
    values are the old ones mapped through one linear function (``present``: the smaller
    number of non-missing values, which sets how much sampling noise to allow)."""
    mean_a, mean_b = old.mean or 0.0, new.mean or 0.0
    std_a, std_b = old.std or 0.0, new.std or 0.0
    pooled = math.sqrt((std_a**2 + std_b**2) / 2)
    if pooled > 0:
        location = abs(mean_b - mean_a) / pooled
    else:
        location = 0.0 if mean_a == mean_b else MAX_SCORE
    if std_a > 0 and std_b > 0:
        spread = abs(math.log(std_b / std_a))
    else:
        spread = 0.0 if std_a == std_b else MAX_SCORE
    score = max(location, spread)
    noise = _noise(present)
    scale = _linear_map(old, new, noise) if score > 0 else None
    if scale is not None:
        factor, offset = scale
        known = _known_conversion(factor, offset, std_b, noise)
        if offset == 0.0 or (known and known[1] == 0.0):
            means = f"mean x{_ratio(mean_a, mean_b)}, " if abs(mean_a) >= 1.5 * std_a else ""
            text = f"{means}std x{std_b / std_a:.2f}: looks like a unit or scale change"
        elif known:
            text = f"values look linearly transformed (x{factor:.4g} {offset:+.4g}): looks like a unit change"
        else:
            # Quantiles cannot tell a unit change with an offset from a spread that grew or
            # shrank around a moved centre, so say what was measured and claim no more.
            text = (f"values look linearly transformed (x{factor:.4g} {offset:+.4g}): "
                    "a unit change, or the spread rescaled around a moved centre")
        if known:
            text += f" ({known[2]})"
        return [(score, text)]
    out: list[tuple[float, str]] = []
    if location > 0:
        shift = (mean_b - mean_a) / pooled if pooled > 0 else math.inf
        text = f"mean {_num(mean_a)} -> {_num(mean_b)} ({shift:+.2f} std)"
        unit = _known_offset(old, new, noise)
        if unit:
            text += f": looks like a unit change ({unit})"
        out.append((location, text))
    if spread > 0:
        ratio = std_b / std_a if std_a > 0 else math.inf
        out.append((spread, f"std {_num(std_a)} -> {_num(std_b)} (x{ratio:.2f})"))
    return out


def _noise(present: int) -> float:
    """Tolerance, in standard deviations, for comparing two samples' statistics.

    A quantile between p5 and p95 of a sample of n values is off by at most about 2/sqrt(n)
    standard deviations (one standard error); the difference of two samples by about 3/sqrt(n).
    4/sqrt(n) leaves room, with a floor of 2% for rounding and for descriptions of the very same
    rows in another unit.
    """
    return max(0.02, 4 / math.sqrt(max(present, 1)))


def _ratio(before: float, after: float) -> str:
    return f"{after / before:.2f}" if before else "n/a"


def _points(profile: ColumnProfile) -> list[float | None]:
    # The mean and the quantiles, not min and max: extremes of two samples of one
    # distribution differ by far more than their quantiles do.
    values: list[Any] = [profile.mean]
    values.extend(getattr(profile, name) for name, _ in QUANTILES)
    return [float(v) if isinstance(v, int | float) else None for v in values]


def _linear_map(old: ColumnProfile, new: ColumnProfile, noise: float) -> tuple[float, float] | None:
    """(factor, offset) when new = old * factor + offset at every recorded point, within
    ``noise`` standard deviations, and the factor is clearly not 1; else None.

    A pure change of scale (offset 0, the usual unit change) is tried first with the factor
    taken from the means, which sampling moves far less than the standard deviations; then an
    affine map with the factor taken from the standard deviations.
    """
    if not old.std or not new.std:
        return None
    spread = new.std / old.std
    # The log of a sample's std has a standard error of about 1/sqrt(2n): a factor within a
    # few of those of 1 is noise (or a pure shift), not a change of scale.
    if abs(math.log(spread)) < max(0.05, noise):
        return None
    pairs = [
        (a, b) for a, b in zip(_points(old), _points(new), strict=True) if a is not None and b is not None
    ]
    if len(pairs) < 3:
        return None
    tolerance = noise * new.std
    # The ratio of the means is the more precise estimate of a pure scale factor when the means
    # are well away from 0 (its relative error is about std / (|mean| sqrt(n))).
    far_from_zero = (
        old.mean is not None and new.mean is not None and old.mean * new.mean > 0
        and abs(old.mean) >= 1.5 * old.std and abs(new.mean) >= 1.5 * new.std
    )
    factor = new.mean / old.mean if far_from_zero else spread  # type: ignore[operator]
    if abs(math.log(factor / spread)) <= noise and all(abs(b - factor * a) <= tolerance for a, b in pairs):
        return factor, 0.0
    offsets = [b - spread * a for a, b in pairs]
    if max(offsets) - min(offsets) > 2 * tolerance:
        return None
    return spread, sum(offsets) / len(offsets)


def _known_conversion(
    factor: float, offset: float, std: float, noise: float
) -> tuple[float, float, str] | None:
    tolerance = min(0.03, max(0.01, noise / 2))
    for known in _KNOWN_CONVERSIONS:
        known_factor, known_offset, _ = known
        if abs(factor / known_factor - 1) <= tolerance and abs(offset - known_offset) <= max(
            noise * std, 0.01 * abs(known_offset)
        ):
            return known
    return None


def _known_offset(old: ColumnProfile, new: ColumnProfile, noise: float) -> str | None:
    """The name of a known pure-offset conversion (C -> K) that explains a shift, if any."""
    if not old.std or not new.std or old.mean is None or new.mean is None:
        return None
    if abs(math.log(new.std / old.std)) >= max(0.05, noise):
        return None
    shift = new.mean - old.mean
    for known_factor, known_offset, label in _KNOWN_CONVERSIONS:
        if known_factor == 1.0 and abs(shift - known_offset) <= max(noise * new.std, 0.001 * abs(known_offset)):
            return label
    return None


def _shares(profile: ColumnProfile, rows: int) -> dict[Any, float]:
    """Share of each top value among non-missing rows, plus ``None`` for all other values."""
    present = rows - profile.null_count
    if not profile.top_values or present <= 0:
        return {}
    shares = {value: count / present for value, count in profile.top_values}
    shares[None] = max(0.0, 1.0 - sum(shares.values()))
    return shares


def _category_part(
    old: ColumnProfile, new: ColumnProfile, top_a: dict[Any, float], top_b: dict[Any, float]
) -> tuple[float, str]:
    keys = set(top_a) | set(top_b)
    if not top_a or not top_b:
        return 0.0, "top values unavailable on one side"
    moves = sorted(
        ((_cohen_h(top_a.get(k, 0.0), top_b.get(k, 0.0)), k) for k in keys),
        key=lambda m: (-m[0], str(m[1])),
    )
    score, key = moves[0]
    sentences = []
    # With every value listed on both sides (no "other" share), set changes are certain.
    complete = top_a.get(None, 0.0) < 1e-12 and top_b.get(None, 0.0) < 1e-12
    if complete:
        added = sorted((k for k in top_b if k not in top_a and k is not None), key=str)
        removed = sorted((k for k in top_a if k not in top_b and k is not None), key=str)
        if added:
            sentences.append("new values " + ", ".join(repr(k) for k in added[:5]))
        if removed:
            sentences.append("values gone " + ", ".join(repr(k) for k in removed[:5]))
    label = "other values" if key is None else repr(key)
    sentences.append(
        f"share of {label} {top_a.get(key, 0.0):.1%} -> {top_b.get(key, 0.0):.1%}"
    )
    return score, "; ".join(sentences)
