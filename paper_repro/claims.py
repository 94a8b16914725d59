"""The claim check each figure makes: the paper's claim, the statistic measured here, and whether
the claim holds at the scale that ran.  Printed by the runner and saved in ``<id>.json``."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class ClaimCheck:
    """claim: the paper's claim in words; statistic: what was measured and how it decides;
    measured: the numbers (JSON-ready); holds: True / False at this scale; note: caveats."""
    claim: str
    statistic: str
    measured: dict
    holds: bool
    note: str = ""
    scale: str = field(default="")

    def verdict(self) -> str:
        return "holds" if self.holds else "does not hold"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["verdict"] = f"{self.verdict()} at scale {self.scale!r}"
        return d

    def __str__(self) -> str:
        lines = [f"  claim:     {self.claim}",
                 f"  statistic: {self.statistic}",
                 f"  measured:  {_short(self.measured)}",
                 f"  verdict:   {self.verdict().upper()} at scale {self.scale!r}"]
        if self.note:
            lines.append(f"  note:      {self.note}")
        return "\n".join(lines)


def _fmt(v, depth=0) -> str:
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
