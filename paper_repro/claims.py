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


def _short(measured: dict) -> str:
    parts = []
    for k, v in measured.items():
        if isinstance(v, float):
            parts.append(f"{k}={v:.4g}")
        elif isinstance(v, (list, tuple)) and len(v) > 6:
            parts.append(f"{k}=[{len(v)} values]")
        elif isinstance(v, (list, tuple)):
            parts.append(f"{k}=[" + ", ".join(f"{x:.4g}" if isinstance(x, float) else str(x) for x in v) + "]")
        else:
            parts.append(f"{k}={v}")
    return "; ".join(parts)
