"""Correlation of two symbols and the correlated-group rule: one implementation for the backtest
kernel (numba) and the live Account (plain calls, see whale.risk.account).

The measure: the Pearson correlation of the log returns of two symbols' primary-interval closes,
over the last `lookback` returns between COMMON timestamps at or before the decision time (the
open time of the candle whose close decided the entry). Common timestamps only: a candle one
symbol has and the other lacks (a gap, a late listing) is left out, and the return spans the two
common candles around it. Fewer than MIN_RETURNS returns give NaN (unknown), which groups with
nothing: a symbol that has just joined is not held back by a correlation nobody can measure yet.

The group rule: a candidate entry (symbol S, side d) joins each open position P (symbol Q, side e)
with corr(S, Q) > threshold and e == d (the same bet), or corr(S, Q) < -threshold and e == -d
(long one, short a symbol moving against it: also the same bet). The group's notional after the
entry is capped at `risk.max_correlated_exposure_percent` % of equity (whale.risk.sizing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

MIN_RETURNS = 20  # the fewest returns a correlation is measured on (config's lookback minimum too)


@njit(cache=True)
def _last_at_or_before(ts: np.ndarray, t: int) -> int:
    """Index of the last ts <= t (ts ascending), -1 if none."""
    lo, hi = 0, ts.shape[0]
    while lo < hi:
        mid = (lo + hi) // 2
        if ts[mid] <= t:
            lo = mid + 1
        else:
            hi = mid
    return lo - 1


@njit(cache=True)
def log_return_correlation(ts_a: np.ndarray, close_a: np.ndarray, ts_b: np.ndarray, close_b: np.ndarray,
                           t_max: int, lookback: int, min_returns: int) -> float:
    """Pearson correlation of the log returns of a and b over the last `lookback` returns between their
    common timestamps <= t_max (lookback + 1 common closes); NaN with fewer than `min_returns` returns
    or when either series does not move. ts ascending, closes > 0."""
    ia = _last_at_or_before(ts_a, t_max)
    ib = _last_at_or_before(ts_b, t_max)
    want = lookback + 1
    xa = np.empty(want)
    xb = np.empty(want)
    m = 0
    while ia >= 0 and ib >= 0 and m < want:
        ta, tb = ts_a[ia], ts_b[ib]
        if ta == tb:
            xa[m] = close_a[ia]
            xb[m] = close_b[ib]
            m += 1
            ia -= 1
            ib -= 1
        elif ta > tb:
            ia -= 1
        else:
            ib -= 1
    n = m - 1
    if n < min_returns or n < 2:
        return math.nan
    ra = np.empty(n)
    rb = np.empty(n)
    for i in range(n):  # newest first; pairs stay aligned, which is all Pearson needs
        ra[i] = math.log(xa[i] / xa[i + 1])
        rb[i] = math.log(xb[i] / xb[i + 1])
    ma = ra.sum() / n
    mb = rb.sum() / n
    sab = 0.0
    saa = 0.0
    sbb = 0.0
    for i in range(n):
        da = ra[i] - ma
        db = rb[i] - mb
        sab += da * db
        saa += da * da
        sbb += db * db
    if not (saa > 0.0 and sbb > 0.0):
        return math.nan
    r = sab / math.sqrt(saa * sbb)
    return min(1.0, max(-1.0, r))


@njit(cache=True)
def joins_group(correlation: float, same_side: bool, threshold: float) -> bool:
    """Is an open position the same bet as the candidate? Same side and correlation above the
    threshold, or opposite sides and correlation below minus the threshold. NaN joins nothing."""
    if correlation != correlation:
        return False
    if same_side:
        return correlation > threshold
    return correlation < -threshold


def side_word(side: int) -> str:
    return "long" if side > 0 else "short"


@dataclass(frozen=True)
class GroupMember:
    """An open position that is the same bet as the candidate entry."""

    symbol: str
    side: int  # +1 long, -1 short
    correlation: float  # with the candidate's symbol
    notional: float  # qty x mark price (USDT)


@dataclass(frozen=True)
class Group:
    """The open positions a candidate entry (symbol, side) joins, and the cap on them together."""

    symbol: str
    side: int
    members: tuple[GroupMember, ...]
    threshold: float
    max_percent: float  # risk.max_correlated_exposure_percent
    unlisted: int = 0  # more members than `members` lists (a record keeps the first few)
    unlisted_notional: float = 0.0

    @property
    def notional(self) -> float:
        """The members' notional before the entry (the kernel's group_notional)."""
        return float(sum(m.notional for m in self.members)) + self.unlisted_notional

    def phrase(self) -> str:
        """ETHUSDT long would join BTCUSDT long (correlation 0.86 > 0.70) and ..."""
        t = self.threshold
        parts = []
        for m in self.members:
            if m.side == self.side:
                how = f"correlation {m.correlation:.2f} > {t:.2f}"
            else:
                how = f"correlation {m.correlation:.2f} < {-t:.2f}"
            parts.append(f"{m.symbol} {side_word(m.side)} ({how})")
        if self.unlisted:
            parts.append(f"{self.unlisted} more")
        return f"{self.symbol} {side_word(self.side)} would join " + " and ".join(parts)
