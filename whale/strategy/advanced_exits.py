"""Advanced take-profit exits, checked on every tick / book update while a position is open.

`AdvancedExits.update(...)` is called on EVERY tick or book update (with or without a position),
so the rolling windows are warm when a position opens. Every window runs on market time (the
timestamps the exchange sent), and an update repeated at the same market moment (another pass of
the loop with nothing new) replaces its sample rather than adding one, so how often the loop wakes
never changes a decision; `check(position, now_ms)` returns the first
exit that fires, or None. Every window is a bounded log (a deque, or a list with a start index and
exact running totals): O(1) amortised per update.

Rules (each behind its `take_profit.*` toggle, all behind `take_profit.enabled`), in the order
`check` tries them:

1. **return to range** (`return_to_range`, checked in profit or not). A long breakout through an
   ask wall at W is armed once the price has been above W since the entry (its best price > W),
   and fires when the price is back below W; mirrored for a short. The same for the local extreme
   the entry broke (`position.broken_extreme`, recorded at entry from `LocalExtremaTracker`): a
   long fires when the price falls back below that high once the price has been above it. The
   density part applies to `kind == "breakout"` positions, the extreme part to any position that
   carries a `broken_extreme`.
2. **counter density** (`counter_density`): a stable density on the far side ahead of the price
   (an ask wall above a long, a bid wall below a short) within `COUNTER_DENSITY_TOLERANCES` x
   `density.bounce_touch_tolerance_percent` (2 x 0.2 % = 0.4 % by default) of the price, and
   still holding (eroded less than `density.breakout_erosion_percent`: an eroding wall ahead is a
   breakout in the position's favour, not an obstacle).
3. **aggressive reversal** (`aggressive_reversal`). From publicTrade taker volume when there is
   any in the last `(1 + FLOW_BASELINE_WINDOWS)` windows: over the last
   `volume_history_window_sec` the taker volume against the position is at least
   `imbalance_change_threshold` x the taker volume with it, AND at least
   `imbalance_change_threshold` x its own average per window over the `FLOW_BASELINE_WINDOWS`
   windows before (the baseline needs one full window of history). Fallback without trades: the
   book imbalance I = (bid - ask) / (bid + ask) volume turned against the position (-side x I > 0)
   by at least `imbalance_change_threshold` x its average magnitude mean(|I|) over the window
   before this sample (floored at `IMBALANCE_FLOOR`), once the history covers the window.
4. **momentum slowdown** (`momentum_slowdown`): velocity v(W) = (price now - price W seconds ago) /
   W, in price units per second, from the (ms, price) history; "W seconds ago" is the last price
   at or before that time. Fires when the long-window move went the position's way
   (side x v_long > 0) and side x v_short < `velocity_slowdown_threshold` x side x v_long.
   Needs history covering the long window.

Rules 2-4 act only when the position is at least `min_profit_percent` in profit after what a market
close would cost (`round_trip_cost_pct`: both taker fees and the exit's slippage, from the `fees`
block), so a "take-profit" never locks in a loss; `min_profit_percent: 0` means break-even net.
The bounce erosion exit lives in `DensityStrategy.manage`; call it before `check`.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from whale.config.model import Density as DensitySettings
from whale.config.model import Fees, TakeProfit
from whale.fills import LONG
from whale.market.instruments import decimal_places
from whale.strategy.density import ASK, BID, DensityTracker, fmt_num, fmt_qty
from whale.strategy.stops import (
    EXIT_REASONS,
    R_AGGRESSIVE,
    R_COUNTER_DENSITY,
    R_MOMENTUM,
    R_RETURN_TO_RANGE,
)

COUNTER_DENSITY_TOLERANCES = 2.0
FLOW_BASELINE_WINDOWS = 5
IMBALANCE_FLOOR = 0.05
MINUTE_MS = 60_000
DEFAULT_QTY_STEP = Decimal("0.00000001")  # taker volumes' unit when no instrument is given (tests of the rules)

KINDS = ("indicators", "breakout", "bounce")


@dataclass(slots=True)
class ManagedPosition:
    """The open position as the exit rules see it. Keep ONE instance per open trade for its whole
    life: `AdvancedExits.check` records the most favourable price seen on it (`best_price`), which
    arms return-to-range. The caller applies StopMoves (sets `stop`, `breakeven_done`)."""

    side: int  # LONG = 1, SHORT = -1
    entry_price: float
    stop: float = math.nan
    qty: float = 0.0
    kind: str = "indicators"  # indicators | breakout | bounce
    density_price: float | None = None
    breakeven_done: bool = False
    opened_ms: int = 0
    broken_extreme: float | None = None  # the local high (long) / low (short) the entry broke
    best_price: float | None = None

    def profit_pct(self, price: float) -> float:
        return self.side * (price - self.entry_price) / self.entry_price * 100.0

    @property
    def name(self) -> str:
        return "long" if self.side == LONG else "short"


@dataclass(frozen=True)
class ExitDecision:
    reason_code: int  # whale.strategy.stops.R_*
    reason: str  # EXIT_REASONS[reason_code]
    detail: str

    @classmethod
    def of(cls, code: int, detail: str) -> ExitDecision:
        return cls(code, EXIT_REASONS[code], detail)


def _side_sign(side: int | str) -> int:
    if isinstance(side, str):
        return LONG if side.lower() in ("buy", "bid", "long", "1") else -LONG
    return LONG if side > 0 else -LONG


class _PriceWindows:
    """The price in force `short_ms` and `long_ms` ago, from ONE log of (ms, price) samples shared by
    the two velocity windows. Each window keeps the index of its oldest sample: the last at or before
    the window's start as of the last sample, exactly what a deque trimmed on every new sample would
    hold. The trim runs when a velocity is read (or the log is compacted) rather than on every sample:
    from one index, trimming at a later start goes exactly as far as trimming at every start on the
    way, as long as the starts do not go back; a sample older than the last one (the clock went
    back) trims first at the start it ends. Where the samples ahead of a window's oldest are in time
    order (always, unless the clock went back) the trim finds its stop by bisection. The prefix
    neither window needs is dropped in batches."""

    __slots__ = ("short_ms", "long_ms", "ms", "prices", "short_at", "long_at", "sorted_from", "compact_len")

    COMPACT_EVERY = 1024  # trim and drop the unused prefix once the log grew by this many samples

    def __init__(self, short_ms: float, long_ms: float) -> None:
        self.short_ms = short_ms
        self.long_ms = long_ms
        self.ms: list[int] = []
        self.prices: list[float] = []
        self.short_at = self.long_at = 0  # index of each window's oldest sample, once trimmed
        self.sorted_from = 0  # ms[sorted_from:] is in time order (the last sample older than the one before)
        self.compact_len = self.COMPACT_EVERY

    def add(self, now_ms: int, price: float) -> None:
        ms = self.ms
        if ms:
            if ms[-1] == now_ms:  # the same market moment seen again (another pass): one sample
                self.prices[-1] = price
                return
            if now_ms < ms[-1]:  # the windows' starts go back: trim where they stood
                self.trim()
                self.sorted_from = len(ms)
        ms.append(now_ms)
        self.prices.append(price)
        if len(ms) >= self.compact_len:
            self.compact()

    def trim(self) -> None:
        """Move each window's oldest sample up to the last at or before its start as of the last
        sample (what a deque popped on every new sample holds)."""
        ms = self.ms
        if ms:
            self.short_at = self._oldest(self.short_at, ms[-1] - self.short_ms)
            self.long_at = self._oldest(self.long_at, ms[-1] - self.long_ms)

    def _oldest(self, at: int, cut: float) -> int:
        """From the window's oldest sample `at`, move on while the next sample is at or before `cut`."""
        ms = self.ms
        if self.sorted_from <= at + 1:  # the samples after `at` are in time order: the first one after cut
            return bisect_right(ms, cut, at + 1) - 1
        last = len(ms) - 1
        while at < last and ms[at + 1] <= cut:
            at += 1
        return at

    def compact(self) -> None:
        self.trim()
        k = min(self.short_at, self.long_at)
        if k:
            del self.ms[:k], self.prices[:k]
            self.short_at -= k
            self.long_at -= k
            self.sorted_from = max(0, self.sorted_from - k)
        self.compact_len = len(self.ms) + self.COMPACT_EVERY

    def velocity(self, long: bool, now_ms: int, price: float) -> float | None:
        """(price - price window ago) per second over the long or short window; None while the
        history is shorter."""
        ms = self.ms
        if not ms:
            return None
        self.trim()
        at, window = (self.long_at, self.long_ms) if long else (self.short_at, self.short_ms)
        if ms[at] > now_ms - window:
            return None
        return (price - self.prices[at]) / (window / 1000.0)

    def samples(self, long: bool) -> list[tuple[int, float]]:
        """A window's (ms, price) samples, oldest first (what its deque would hold)."""
        self.trim()
        at = self.long_at if long else self.short_at
        return list(zip(self.ms[at:], self.prices[at:], strict=True))


class LocalExtremaTracker:
    """Rolling high and low over the last `window_min` completed UTC minutes (whole minutes:
    ceil(window_min), at least 1). The forming minute is left out, so at a breakout the high is
    the range's top *before* the move: the level the entry broke."""

    def __init__(self, window_min: float) -> None:
        self.minutes = max(1, math.ceil(window_min))
        # the forming minute and its range (AdvancedExits.update reads them to skip a call that changes nothing)
        self._minute: int | None = None
        self._hi = -math.inf
        self._lo = math.inf
        self._highs: deque[tuple[int, float]] = deque()  # decreasing values
        self._lows: deque[tuple[int, float]] = deque()  # increasing values

    def update(self, now_ms: int, price: float) -> None:
        minute = now_ms // MINUTE_MS
        if minute == self._minute:  # most calls: only the forming minute's range can move
            if price > self._hi:
                self._hi = price
            if price < self._lo:
                self._lo = price
            return
        if self._minute is None:
            self._minute = minute
        elif minute > self._minute:
            self._close(self._minute)
            self._minute = minute
            self._hi, self._lo = -math.inf, math.inf
        if price > self._hi:
            self._hi = price
        if price < self._lo:
            self._lo = price
        oldest = minute - self.minutes
        while self._highs and self._highs[0][0] < oldest:
            self._highs.popleft()
        while self._lows and self._lows[0][0] < oldest:
            self._lows.popleft()

    def _close(self, minute: int) -> None:
        hi, lo = self._hi, self._lo
        if hi == -math.inf:
            return
        while self._highs and self._highs[-1][1] <= hi:
            self._highs.pop()
        self._highs.append((minute, hi))
        while self._lows and self._lows[-1][1] >= lo:
            self._lows.pop()
        self._lows.append((minute, lo))

    def high(self) -> float | None:
        """Highest price of the completed minutes in the window (None before the first one)."""
        return self._highs[0][1] if self._highs else None

    def low(self) -> float | None:
        return self._lows[0][1] if self._lows else None

    def extreme(self, side: int) -> float | None:
        """What a position of `side` would break: the high for a long, the low for a short."""
        return self.high() if side == LONG else self.low()


class TakerFlow:
    """Taker buy and sell volume over the last window and over the baseline windows before it.

    Volumes are sums of exchange quantities, so they are kept exact, as whole multiples of the
    instrument's qtyStep (Python ints): adding and removing the same trades gives exactly zero, never
    a float residue such as -2e-13 (which made ratios of 1e15x, or inf). `buy`, `sell`, `base_buy`
    and `base_sell` give them as quantities.

    The trades are one log in arrival order: their ms and the running totals of buy and sell steps
    before each. The recent window is the log from `_recent_at`, the baseline the part from
    `_base_at` up to it; a trade leaves a window when it and every trade before it are at or before
    the window's start (the queue popped from the left this replaces). A window's volume is the
    difference of two running totals: whole numbers, so exactly the sum of its trades."""

    COMPACT_AT = 1024  # drop the log's prefix once this many trades have left both windows

    def __init__(self, window_ms: float, baseline_windows: int = FLOW_BASELINE_WINDOWS,
                 qty_step: Decimal | None = None) -> None:
        self.window_ms = window_ms
        self.baseline_windows = baseline_windows
        self.qty_step = qty_step if qty_step is not None else DEFAULT_QTY_STEP
        self._step = float(self.qty_step)
        self._baseline_ms = window_ms * baseline_windows  # the baseline's span behind the recent window
        self._ms: list[int] = []
        self._buys: list[int] = [0]  # _buys[i]: buy steps of the trades before the i-th (one more than _ms)
        self._sells: list[int] = [0]
        self._recent_at = self._base_at = 0
        # the ms of each window's oldest trade (inf: none): `advance` has nothing to do before its cut reaches one
        self._recent_first: float = math.inf
        self._base_first: float = math.inf
        self.first_ms: int | None = None

    def qty(self, steps: float) -> Decimal:
        """A volume in qtySteps as an exact quantity (a fractional number of steps, an average, is
        rounded to the step)."""
        return Decimal(round(steps)) * self.qty_step

    @property
    def buy_steps(self) -> int:
        """Taker buy volume over the recent window, in qtySteps."""
        return self._buys[-1] - self._buys[self._recent_at]

    @property
    def sell_steps(self) -> int:
        return self._sells[-1] - self._sells[self._recent_at]

    @property
    def base_buy_steps(self) -> int:
        """Taker buy volume over the baseline windows, in qtySteps."""
        return self._buys[self._recent_at] - self._buys[self._base_at]

    @property
    def base_sell_steps(self) -> int:
        return self._sells[self._recent_at] - self._sells[self._base_at]

    @property
    def buy(self) -> float:
        return float(self.qty(self.buy_steps))

    @property
    def sell(self) -> float:
        return float(self.qty(self.sell_steps))

    @property
    def base_buy(self) -> float:
        return float(self.qty(self.base_buy_steps))

    @property
    def base_sell(self) -> float:
        return float(self.qty(self.base_sell_steps))

    def add(self, trades: Iterable[tuple], now_ms: int) -> None:
        """Trades as (ms, side, size[, price]); side +1 / "Buy" for a taker buy, -1 / "Sell"."""
        if self.first_ms is None:
            self.first_ms = now_ms
        ms, buys, sells, step = self._ms, self._buys, self._sells, self._step
        buy, sell = buys[-1], sells[-1]
        for t in trades:
            steps = round(float(t[2]) / step)
            if steps < 0:  # a negative size counts as none
                steps = 0
            side = t[1]
            if side == "Buy" or (side != "Sell" and _side_sign(side) == LONG):  # Bybit's words first: no call
                buy += steps
            else:
                sell += steps
            ms.append(int(t[0]))
            buys.append(buy)
            sells.append(sell)
        if self._recent_at < len(ms):
            self._recent_first = ms[self._recent_at]

    def advance(self, now_ms: int) -> None:
        cut = now_ms - self.window_ms
        if cut < self._recent_first and cut - self._baseline_ms < self._base_first:
            return  # no window's oldest trade is at or before its start (most calls)
        ms = self._ms
        n, i, j = len(ms), self._recent_at, self._base_at
        while i < n and ms[i] <= cut:
            i += 1
        cut -= self._baseline_ms
        while j < i and ms[j] <= cut:
            j += 1
        if j >= self.COMPACT_AT:
            del ms[:j], self._buys[:j], self._sells[:j]
            i -= j
            n -= j
            j = 0
        self._recent_at, self._base_at = i, j
        self._recent_first = ms[i] if i < n else math.inf
        self._base_first = ms[j] if j < i else math.inf

    @property
    def has_trades(self) -> bool:
        return self._base_at < len(self._ms)

    def baseline_span(self, now_ms: int) -> float:
        """How many windows of history the baseline averages over (0 while too short)."""
        if self.first_ms is None:
            return 0.0
        span = (now_ms - self.window_ms - self.first_ms) / self.window_ms
        return min(float(self.baseline_windows), span) if span >= 1.0 else 0.0


class _ImbalanceHistory:
    """Book imbalance samples over the window, with the running sum of |I|."""

    def __init__(self, window_ms: float) -> None:
        self.window_ms = window_ms
        self.q: deque[tuple[int, float]] = deque()
        self.abs_sum = 0.0
        self.first_ms: int | None = None

    def add(self, now_ms: int, value: float) -> None:
        q = self.q
        if q:
            last = q[-1]
            if last[0] == now_ms:  # the same market moment seen again (another pass): one sample
                # the sums of a pop and an append; the window's start has not moved since that sample was added
                self.abs_sum = abs(value) if len(q) == 1 else self.abs_sum - abs(last[1]) + abs(value)
                q[-1] = (now_ms, value)
                return
        elif self.first_ms is None:
            self.first_ms = now_ms
        q.append((now_ms, value))
        abs_sum = self.abs_sum + abs(value)
        cut = now_ms - self.window_ms
        while q and q[0][0] < cut:
            abs_sum -= abs(q.popleft()[1])
        self.abs_sum = abs(value) if len(q) == 1 else abs_sum

    def jump(self) -> tuple[float, float] | None:
        """(the last sample, mean |I| of the earlier samples in the window), or None while the
        history is shorter than the window."""
        q = self.q
        if len(q) < 2 or self.first_ms is None or q[-1][0] - self.first_ms < self.window_ms:
            return None
        last = q[-1][1]
        return last, max(0.0, self.abs_sum - abs(last)) / (len(q) - 1)


def round_trip_cost_pct(fees: Fees) -> float:
    """What a market entry plus a market exit cost beyond the price move, in % of the entry: two
    taker fees and the exit's slippage (the entry's slippage is already in its fill price)."""
    return (2.0 * fees.taker_rate + fees.slippage_rate) * 100.0


class AdvancedExits:
    """Rolling market state plus the four advanced exit rules (see the module doc)."""

    def __init__(self, settings: TakeProfit, density: DensitySettings | None = None,
                 fees: Fees | None = None, qty_step: Decimal | None = None) -> None:
        """`qty_step`: the instrument's qtyStep; taker volumes are counted and printed in it (without
        one, in steps of 1e-8, printed without trailing zeros)."""
        density = density or DensitySettings()
        self.settings = settings
        # Without a fees block (unit tests of the rules alone) the gate is on the raw price move.
        self.cost_pct = 0.0 if fees is None else round_trip_cost_pct(fees)
        self.min_gross_profit_pct = settings.min_profit_percent + self.cost_pct
        self.counter_distance_pct = COUNTER_DENSITY_TOLERANCES * density.bounce_touch_tolerance_percent
        self.breakout_erosion_pct = density.breakout_erosion_percent
        self._prices = _PriceWindows(settings.velocity_short_window_sec * 1000.0,
                                     settings.velocity_long_window_sec * 1000.0)
        window_ms = settings.volume_history_window_sec * 1000.0
        self.flow = TakerFlow(window_ms, qty_step=qty_step)
        self._qty_places = None if qty_step is None else decimal_places(qty_step)
        self._imbalance = _ImbalanceHistory(window_ms)
        self.extrema = LocalExtremaTracker(settings.local_extrema_window_min)
        self.tracker: DensityTracker | None = None
        self.price = math.nan
        self._price_ms: int | None = None  # the time of the last price sample
        self.now_ms: int | None = None
        rules = []
        if settings.return_to_range:
            rules.append(self._return_to_range)
        in_profit = []
        if settings.counter_density:
            in_profit.append(self._counter_density)
        if settings.aggressive_reversal:
            in_profit.append(self._aggressive_reversal)
        if settings.momentum_slowdown:
            in_profit.append(self._momentum_slowdown)
        if not settings.enabled:
            rules, in_profit = [], []
        self._rules = tuple(rules)
        self._in_profit = tuple(in_profit)

    def update(self, now_ms: int, price: float, trades: Iterable[tuple] | None = None,
               book_imbalance: float | None = None, tracker: DensityTracker | None = None) -> None:
        """One tick / book update: the price (last trade or mid), the public trades received since
        the last call (None when there is no trade stream), the book imbalance (None: taken from
        the tracker's band imbalance when a tracker is given) and the density tracker."""
        if price == price and price > 0.0:
            if now_ms != self._price_ms or price != self.price:  # else this very sample is in already
                self._price_ms = now_ms
                self._prices.add(now_ms, price)
                ext = self.extrema  # its update's fast case inline: a call only for a new minute or a new high/low
                if now_ms // MINUTE_MS != ext._minute or price > ext._hi or price < ext._lo:
                    ext.update(now_ms, price)
            self.price = price
        self.now_ms = now_ms
        if tracker is not None:
            self.tracker = tracker
            if book_imbalance is None:
                book_imbalance = tracker.imbalance
        flow = self.flow
        if trades is not None:
            flow.add(trades, now_ms)
        cut = now_ms - flow.window_ms  # advance's early return, inline: a call only when a trade leaves a window
        if not (cut < flow._recent_first and cut - flow._baseline_ms < flow._base_first):
            flow.advance(now_ms)
        if book_imbalance is not None and book_imbalance == book_imbalance:
            self._imbalance.add(now_ms, float(book_imbalance))

    def velocity(self, window: str = "short") -> float | None:
        """Price change per second over the short or long window (None while history is short)."""
        return None if self.now_ms is None else self._prices.velocity(window != "short", self.now_ms, self.price)

    def check(self, position: ManagedPosition, now_ms: int) -> ExitDecision | None:
        """The first exit that fires for `position`, or None."""
        return self._decisions(position, now_ms, None)

    def check_all(self, position: ManagedPosition, now_ms: int) -> list[ExitDecision]:
        """Every exit that fires now, in check order (for display and benchmarks)."""
        found: list[ExitDecision] = []
        self._decisions(position, now_ms, found)
        return found

    def _decisions(self, position: ManagedPosition, now_ms: int,
                   found: list[ExitDecision] | None) -> ExitDecision | None:
        """The rules in check order: the first exit that fires, or with `found` every one appended
        to it (a plain loop, no generator: `check` runs on every pass in a position)."""
        price = self.price
        if not (price > 0.0):
            return None
        best = position.best_price
        if best is None or (price - best) * position.side > 0.0:
            position.best_price = best = price if best is not None else (
                max(price, position.entry_price) if position.side == LONG else min(price, position.entry_price))
        self.flow.advance(now_ms)
        for rule in self._rules:
            d = rule(position, price, now_ms)
            if d is not None:
                if found is None:
                    return d
                found.append(d)
        if not self._in_profit or position.profit_pct(price) < self.min_gross_profit_pct:
            return None
        for rule in self._in_profit:
            d = rule(position, price, now_ms)
            if d is not None:
                if found is None:
                    return d
                found.append(d)
        return None

    # ------------------------------------------------------------------------------------------
    # Rules

    def _return_to_range(self, pos: ManagedPosition, price: float, now_ms: int) -> ExitDecision | None:
        side, best = pos.side, pos.best_price
        if best is None:  # _decisions sets it before any rule runs
            return None
        # a level is armed once the best price went through it, and fires when the price is back behind it
        level = pos.density_price
        if (level is not None and pos.kind == "breakout" and (best - level) * side > 0.0
                and (level - price) * side > 0.0):
            return self._back_in_range(pos, price, best, "its density", level)
        level = pos.broken_extreme
        if level is not None and (best - level) * side > 0.0 and (level - price) * side > 0.0:
            return self._back_in_range(pos, price, best, f"the local {'high' if side == LONG else 'low'} it broke",
                                       level)
        return None

    @staticmethod
    def _back_in_range(pos: ManagedPosition, price: float, best: float, what: str, level: float) -> ExitDecision:
        where = "below" if pos.side == LONG else "above"
        return ExitDecision.of(R_RETURN_TO_RANGE, (
            f"the {pos.name} fell back {where} {what} at {fmt_num(level)}: price {fmt_num(price)} "
            f"after reaching {fmt_num(best)}"))

    def _counter_density(self, pos: ManagedPosition, price: float, now_ms: int) -> ExitDecision | None:
        tracker = self.tracker
        if tracker is None:
            return None
        side = pos.side
        wall_side = ASK if side == LONG else BID
        limit = self.counter_distance_pct
        hit = None
        for d in tracker.densities_near(price, limit):
            if d.side != wall_side or d.erosion_pct >= self.breakout_erosion_pct:
                continue
            ahead = (d.price - price) * side
            if ahead < 0.0:
                continue
            dist = ahead / price * 100.0
            if dist <= limit and (hit is None or dist < hit[1]):
                hit = (d, dist)
        if hit is None:
            return None
        d, dist = hit
        return ExitDecision.of(R_COUNTER_DENSITY, (
            f"{d.side} density {fmt_num(d.price)} ({fmt_qty(d.qty)}, {d.notional:,.0f} USDT, eroded "
            f"{d.erosion_pct:.0f} %) {dist:.3f} % {'above' if side == LONG else 'below'} the price "
            f"{fmt_num(price)}, ahead of the {pos.name} (limit {limit:g} %)"))

    def _aggressive_reversal(self, pos: ManagedPosition, price: float, now_ms: int) -> ExitDecision | None:
        thr = self.settings.imbalance_change_threshold
        flow = self.flow
        if flow.has_trades:
            span = flow.baseline_span(now_ms)
            if span <= 0.0:
                return None
            if pos.side == LONG:  # whole qtySteps: exact, never negative
                counter, with_, base = flow.sell_steps, flow.buy_steps, flow.base_sell_steps
                against = "sell"
            else:
                counter, with_, base = flow.buy_steps, flow.sell_steps, flow.base_buy_steps
                against = "buy"
            average = base / span
            if counter > 0 and counter >= thr * with_ and counter >= thr * average:
                win = self.settings.volume_history_window_sec
                versus_with = (f"{counter / with_:.1f}x the volume with it ({self._qty(with_)})" if with_ > 0
                               else "no taker volume with it")
                versus_average = (f"{counter / average:.1f}x its average {self._qty(average)} per {win:g} s"
                                  if average > 0 else f"none in the {win:g} s windows before")
                return ExitDecision.of(R_AGGRESSIVE, (
                    f"taker {against} volume {self._qty(counter)} over {win:g} s against the {pos.name}: "
                    f"{versus_with} and {versus_average} (threshold {thr:g}x)"))
            return None
        jump = self._imbalance.jump()
        if jump is None:
            return None
        last, mean_abs = jump
        turned = -pos.side * last
        floor = max(mean_abs, IMBALANCE_FLOOR)
        if turned > 0.0 and turned >= thr * floor:
            return ExitDecision.of(R_AGGRESSIVE, (
                f"book imbalance {last:+.2f} turned against the {pos.name}: {turned:.2f} is "
                f"{turned / floor:.1f}x its average magnitude {mean_abs:.2f} over "
                f"{self.settings.volume_history_window_sec:g} s (threshold {thr:g}x, no taker trades)"))
        return None

    def _qty(self, steps: float) -> str:
        """A taker volume with the instrument's decimals (thousands separated)."""
        q = self.flow.qty(steps)
        return format(q, ",f") if self._qty_places is not None else format(q.normalize(), ",f")

    def _momentum_slowdown(self, pos: ManagedPosition, price: float, now_ms: int) -> ExitDecision | None:
        if self.now_ms is None:  # no update() yet: no price history
            return None
        v_short = self._prices.velocity(False, self.now_ms, price)
        v_long = self._prices.velocity(True, self.now_ms, price)
        if v_short is None or v_long is None:
            return None
        side = pos.side
        along_long, along_short = side * v_long, side * v_short
        thr = self.settings.velocity_slowdown_threshold
        if along_long > 0.0 and along_short < thr * along_long:
            s = self.settings
            return ExitDecision.of(R_MOMENTUM, (
                f"velocity over {s.velocity_short_window_sec:g} s {v_short:+.4g}/s is below {thr:g} x the "
                f"{s.velocity_long_window_sec:g} s velocity {v_long:+.4g}/s in the {pos.name}'s direction"))
        return None
