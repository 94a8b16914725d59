"""The claim check each figure makes: the paper's claim, the statistic measured here, and whether
the claim holds at the scale that ran.  Printed by the runner and saved in ``<id>.json``.

Each check also sets the paper's numbers beside ours (:func:`vs`): where the paper states a number
(in its text or readable off a published figure) the check prints it next to the same quantity
measured here; where the paper states the claim only in words, the comparison row says so
(``paper=None``) instead of inventing a number."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

#: what a comparison row prints when the paper gives no number for the quantity
NO_NUMBER = "no number in the paper (claim stated in words)"


def vs(quantity: str, paper, ours, source: str = "") -> dict:
    """One row of a check's paper-vs-ours comparison.

    quantity: what is compared, in words; paper: the paper's value (a number, a short text such
    as "0.47 -> 0.28", or None when the paper gives no number); ours: the same quantity measured
    in this run; source: where the paper's value comes from (e.g. "Fig 4b", "read off the
    published Fig 3 image")."""
    return {"quantity": quantity, "paper": paper, "ours": ours, "source": source}


@dataclass(frozen=True)
class ClaimCheck:
    """claim: the paper's claim in words; statistic: what was measured and how it decides;
    measured: the numbers (JSON-ready); holds: True / False at this scale; note: caveats;
    comparison: rows of :func:`vs` (the paper's numbers beside ours)."""
    claim: str
    statistic: str
    measured: dict
    holds: bool
    note: str = ""
    scale: str = field(default="")
    comparison: tuple = field(default=())

    def verdict(self) -> str:
        return "holds" if self.holds else "does not hold"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["comparison"] = [dict(r) for r in self.comparison]
        d["verdict"] = f"{self.verdict()} at scale {self.scale!r}"
        return d

    def comparison_lines(self) -> list:
        """``quantity: paper X (source) | ours Y`` per comparison row."""
        out = []
        for r in self.comparison:
            paper = NO_NUMBER if r["paper"] is None else _fmt(r["paper"])
            src = f" ({r['source']})" if r.get("source") and r["paper"] is not None else ""
            out.append(f"{r['quantity']}: paper {paper}{src} | ours {_fmt(r['ours'])}")
        return out

    def summary(self) -> str:
        """One line: the verdict and the first comparison row (the headline number)."""
        head = f"claim {self.verdict().upper()} at scale {self.scale!r}"
        rows = self.comparison_lines()
        return head + (f" -- {rows[0]}" if rows else "")

    def __str__(self) -> str:
        lines = [f"  claim:     {self.claim}",
                 f"  statistic: {self.statistic}"]
        rows = self.comparison_lines()
        if rows:
            lines.append(f"  paper vs ours: {rows[0]}")
            lines += [f"                 {r}" for r in rows[1:]]
        lines += [f"  measured:  {_short(self.measured)}",
                  f"  verdict:   {self.verdict().upper()} at scale {self.scale!r}"]
        if self.note:
            lines.append(f"  note:      {self.note}")
        return "\n".join(lines)

    @classmethod
    def from_dict(cls, d: dict) -> "ClaimCheck":
        """Inverse of :meth:`to_dict` (JSON written before comparisons existed has none)."""
        keys = ("claim", "statistic", "measured", "holds", "note", "scale")
        return cls(**{k: d[k] for k in keys if k in d}, comparison=tuple(d.get("comparison", ())))


def _fmt(v, depth=0) -> str:
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        if depth >= 1 and len(v) > 6:
            return f"{{{len(v)} entries}}"
        return "{" + ", ".join(f"{k}: {_fmt(x, depth + 1)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        if len(v) > 10:
            return f"[{len(v)} values]"
        return "[" + ", ".join(_fmt(x, depth + 1) for x in v) + "]"
    return str(v)


def _short(measured: dict) -> str:
    return "; ".join(f"{k}={_fmt(v)}" for k, v in measured.items())
