"""One progress bar per figure, over all of its stages.

A figure's work comes in stages that are only known as it runs (train net 3 of 10 -- unless the
cache has it --, record 21 checkpoints, compare 45 pairs).  :class:`FigureProgress` keeps a single
tqdm bar for the whole figure: every stage adds its units to the bar's total when it starts and
names itself in the bar's description, so the bar reads "pwcca-fig3 | train memorizing net 2/5 |
1830/9400".  Units are whatever the stage counts (training steps, checkpoints, pairs); a stage
skipped by the cache adds nothing.

Figures reach it through the run context: ``ctx.stage(desc, total)`` (a :class:`Stage` with
``update(n)``, usable as a context manager) and ``ctx.track(iterable, desc)``.  Outside a figure
run (tests calling a helper directly) the context holds a disabled one, so the calls cost nothing.
"""
from __future__ import annotations


class Stage:
    """Part of a figure's bar: ``update(n=1)`` advances both; ``close()`` (or leaving the ``with``
    block) takes back from the bar's total the units the stage announced but never did, so an
    early exit leaves the bar consistent."""

    def __init__(self, owner: "FigureProgress", desc: str, total: int):
        self._owner, self.desc, self.total, self.done = owner, desc, int(total), 0
        self._closed = False

    def update(self, n: int = 1) -> None:
        self.done += int(n)
        self._owner._advance(int(n))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._owner._finish(self)

    def __enter__(self) -> "Stage":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class FigureProgress:
    """A figure's single tqdm bar (``enabled=False``: no bar, the stages are still counted).

    ``stages`` lists ``(desc, total, done)`` of every stage opened, in order (the tests read it)."""

    def __init__(self, fig_id: str = "", enabled: bool = False):
        self.fig_id = fig_id
        self.enabled = enabled
        self.stages: list = []
        self._bar = None
        if enabled:
            from tqdm.auto import tqdm
            self._bar = tqdm(total=0, desc=fig_id, unit="it", leave=False, mininterval=0.5, dynamic_ncols=True)

    def stage(self, desc: str, total: int) -> Stage:
        """Open a stage of ``total`` units named ``desc``."""
        st = Stage(self, desc, total)
        self.stages.append(st)
        if self._bar is not None:
            self._bar.total += st.total
            self._bar.set_description(f"{self.fig_id} | {desc}" if self.fig_id else desc, refresh=False)
            self._bar.refresh()
        return st

    def track(self, iterable, desc: str, total: int | None = None):
        """Iterate over ``iterable`` as one stage (one unit per item)."""
        items = iterable if total is not None else list(iterable)
        n = total if total is not None else len(items)
        with self.stage(desc, n) as st:
            for item in items:
                yield item
                st.update()

    def _advance(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def _finish(self, st: Stage) -> None:
        if self._bar is not None and st.done < st.total:
            self._bar.total -= st.total - st.done
            self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
