"""The advanced exits' fast paths give what the plain rolling windows give, bit for bit.

Each reference below is the plain structure the fast one replaces: a deque per window trimmed on
every sample, a (ms, buy, sell) queue popped on every advance, the imbalance deque with its running
sum. Random streams (repeated moments, a clock that goes back, unsorted trade times, sizes that round
to nothing) go through both; the state must match after every call, including across the batch
compactions (made frequent here)."""

import dataclasses
import math
import random
from collections import deque

import pytest

from whale.config.model import TakeProfit
from whale.fills import LONG, SHORT
from whale.strategy.advanced_exits import (
    AdvancedExits,
    LocalExtremaTracker,
    ManagedPosition,
    TakerFlow,
    _ImbalanceHistory,
    _PriceWindows,
    _side_sign,
)

T0 = 1_700_000_000_000


class PlainPriceAt:
    """One velocity window as a deque trimmed on every new sample."""

    def __init__(self, window_ms: float) -> None:
        self.window_ms = window_ms
        self.q: deque[tuple[int, float]] = deque()

    def add(self, now_ms: int, price: float) -> None:
        q = self.q
        if q and q[-1][0] == now_ms:
            q[-1] = (now_ms, price)
            return
        q.append((now_ms, price))
        while len(q) > 1 and q[1][0] <= now_ms - self.window_ms:
            q.popleft()

    def velocity(self, now_ms: int, price: float) -> float | None:
        q = self.q
        if not q or q[0][0] > now_ms - self.window_ms:
            return None
        return (price - q[0][1]) / (self.window_ms / 1000.0)


class PlainFlow:
    """Taker volumes as a recent and a baseline queue of (ms, buy steps, sell steps)."""

    def __init__(self, window_ms: float, baseline_windows: int, step: float) -> None:
        self.window_ms, self.baseline_windows, self.step = window_ms, baseline_windows, step
        self.recent: deque[tuple[int, int, int]] = deque()
        self.base: deque[tuple[int, int, int]] = deque()
        self.buy = self.sell = self.base_buy = self.base_sell = 0

    def add(self, trades: list[tuple]) -> None:
        for t in trades:
            steps = max(0, round(float(t[2]) / self.step))
            if _side_sign(t[1]) == LONG:
                self.recent.append((int(t[0]), steps, 0))
                self.buy += steps
            else:
                self.recent.append((int(t[0]), 0, steps))
                self.sell += steps

    def advance(self, now_ms: int) -> None:
        cut = now_ms - self.window_ms
        while self.recent and self.recent[0][0] <= cut:
            item = self.recent.popleft()
            self.buy, self.sell = self.buy - item[1], self.sell - item[2]
            self.base.append(item)
            self.base_buy, self.base_sell = self.base_buy + item[1], self.base_sell + item[2]
        cut -= self.window_ms * self.baseline_windows
        while self.base and self.base[0][0] <= cut:
            item = self.base.popleft()
            self.base_buy, self.base_sell = self.base_buy - item[1], self.base_sell - item[2]

    def state(self) -> tuple:
        return self.buy, self.sell, self.base_buy, self.base_sell, bool(self.recent or self.base)


def flow_state(f: TakerFlow) -> tuple:
    return f.buy_steps, f.sell_steps, f.base_buy_steps, f.base_sell_steps, f.has_trades


class PlainImbalance:
    def __init__(self, window_ms: float) -> None:
        self.window_ms = window_ms
        self.q: deque[tuple[int, float]] = deque()
        self.abs_sum = 0.0

    def add(self, now_ms: int, value: float) -> None:
        q = self.q
        if q and q[-1][0] == now_ms:
            self.abs_sum -= abs(q.pop()[1])
        q.append((now_ms, value))
        self.abs_sum += abs(value)
        while q and q[0][0] < now_ms - self.window_ms:
            self.abs_sum -= abs(q.popleft()[1])
        if len(q) == 1:
            self.abs_sum = abs(value)


def next_ms(rng: random.Random, now: int) -> int:
    """Mostly forward in small steps, often the same moment, now and then a long gap or a step back."""
    return now + rng.choice([0, 0, 0, 1, 3, 40, 250, 900, 2_500, 20_000, -7, -600])


@pytest.mark.parametrize("seed", range(6))
def test_the_shared_price_log_reads_as_two_deques_trimmed_on_every_sample(seed, monkeypatch):
    """Lazy trims (on a velocity read, a step back, a compaction) leave each window's oldest sample
    where the per-sample trims would: every velocity and every window's samples match."""
    monkeypatch.setattr(_PriceWindows, "COMPACT_EVERY", 16)
    rng = random.Random(seed)
    short_ms, long_ms = rng.choice([(3_000.0, 15_000.0), (1.5, 700.0), (0.5, 300.0), (5_000.0, 1_000.0)])
    fast, short, long = _PriceWindows(short_ms, long_ms), PlainPriceAt(short_ms), PlainPriceAt(long_ms)
    now = T0
    for step in range(4_000):
        now = next_ms(rng, now)
        price = round(100 + rng.uniform(-1, 1), 1)
        fast.add(now, price)
        short.add(now, price)
        long.add(now, price)
        if rng.random() < 0.3:  # a read at a later moment than the last sample, as check() can
            at = now + rng.choice([0, 0, 5, 3_000])
            assert fast.velocity(False, at, price) == short.velocity(at, price), step
            assert fast.velocity(True, at, price) == long.velocity(at, price), step
        if rng.random() < 0.05:
            assert fast.samples(False) == list(short.q) and fast.samples(True) == list(long.q), step
    assert len(fast.ms) < 100  # of 4,000 samples: the prefix no window needs was dropped


def test_velocity_before_any_sample_and_without_enough_history():
    fast = _PriceWindows(3_000.0, 15_000.0)
    assert fast.velocity(False, T0, 100.0) is None and fast.samples(True) == []
    fast.add(T0, 100.0)
    fast.add(T0 + 2_000, 101.0)
    assert fast.velocity(False, T0 + 2_000, 101.0) is None
    assert fast.velocity(False, T0 + 3_000, 103.0) == 1.0  # (103 - 100) / 3 s
    assert fast.velocity(True, T0 + 3_000, 103.0) is None


TRADE_SIDES = ["Buy", "Sell", "Buy", "Sell", 1, -1, "buy", "sell", "long", "short", "Bid", "Ask", 0, 2]


@pytest.mark.parametrize("seed", range(6))
def test_taker_flow_running_totals_match_the_queues(seed, monkeypatch):
    """Trades with unsorted times (a batch can be out of order), sides in every accepted form,
    sizes that round to zero steps or are negative; advances at repeated, later and earlier moments;
    trades added after an advance at the same moment (they may already be out of the window)."""
    monkeypatch.setattr(TakerFlow, "COMPACT_AT", 8)
    rng = random.Random(seed)
    window_ms, baseline = rng.choice([(10_000.0, 5), (1_000.0, 2), (250.5, 1), (10_000.0, 0)])
    fast, plain = TakerFlow(window_ms, baseline), PlainFlow(window_ms, baseline, 1e-8)
    now = T0
    for step in range(3_000):
        now = next_ms(rng, now)
        if rng.random() < 0.5:
            trades = [(now - rng.choice([0, 0, 2, 50, 12_000]), rng.choice(TRADE_SIDES),
                       rng.choice([0.001, 0.25, 1e-9, 0.0, -0.5, 3.0, 0.1 + 0.2]), 100.0)
                      for _ in range(rng.randint(0, 4))]
            fast.add(trades, now)
            plain.add(trades)
            assert flow_state(fast) == plain.state(), step
        fast.advance(now)
        plain.advance(now)
        assert flow_state(fast) == plain.state(), step
    fast.advance(now + 10**9)
    plain.advance(now + 10**9)
    assert flow_state(fast) == plain.state() == (0, 0, 0, 0, False)
    assert len(fast._ms) < 8 and fast._recent_at == fast._base_at == len(fast._ms)


def test_taker_flow_advance_twice_at_one_moment_still_takes_trades_added_between():
    """`advance` skips its work while no window's oldest trade is due; a trade added since (here an
    old one, into an empty recent window) is due at once, even at the very moment of the last advance."""
    fast = TakerFlow(10_000.0, 1)
    fast.add([(T0, "Buy", 1e-8)], T0)
    fast.advance(T0 + 10_000)
    assert (fast.buy_steps, fast.base_buy_steps) == (0, 1)
    fast.add([(T0, "Sell", 2e-8)], T0 + 10_000)
    assert fast.sell_steps == 2
    fast.advance(T0 + 10_000)
    assert (fast.sell_steps, fast.base_sell_steps) == (0, 2)


@pytest.mark.parametrize("seed", range(4))
def test_imbalance_history_matches_the_plain_deque_with_the_clock_going_back(seed):
    rng = random.Random(seed)
    window = rng.choice([10_000.0, 300.0, 0.0])
    fast, plain = _ImbalanceHistory(window), PlainImbalance(window)
    now = T0
    for _ in range(3_000):
        now = next_ms(rng, now)
        value = rng.choice([0.1, 0.2, 0.3, -0.7, 1 / 3, -0.0, 0.0, 0.05])
        fast.add(now, value)
        plain.add(now, value)
        assert list(fast.q) == list(plain.q) and fast.abs_sum == plain.abs_sum


def exits_state(ex: AdvancedExits) -> tuple:
    return (ex.price, ex.now_ms, ex.velocity("short"), ex.velocity("long"), flow_state(ex.flow),
            ex._imbalance.jump(), ex.extrema.high(), ex.extrema.low())


@pytest.mark.parametrize("seed", range(4))
def test_update_skipping_a_sample_already_in_matches_updating_every_window(seed):
    """`update` leaves the price windows and the extremes alone when the same moment comes again at
    the same price, calls the extremes only when the price leaves the forming minute's range or the
    minute changes, and the taker flow's advance only when a trade may leave a window; an update at
    another price, a later moment or after a missing price still goes in. Compared with the windows,
    a flow and an extrema tracker fed on every call."""
    rng = random.Random(seed)
    settings = TakeProfit(velocity_short_window_sec=3.0, velocity_long_window_sec=15.0,
                          volume_history_window_sec=10.0, local_extrema_window_min=2)
    ex = AdvancedExits(settings)
    short, long = PlainPriceAt(3_000.0), PlainPriceAt(15_000.0)
    flow = PlainFlow(10_000.0, 5, 1e-8)
    imbalance = PlainImbalance(10_000.0)
    extrema = LocalExtremaTracker(2)
    now, walk = T0, 100.0
    for step in range(4_000):
        now = next_ms(rng, now)
        walk = rng.choice([walk, walk, walk + 0.5, walk - 0.5])
        price = rng.choice([walk, walk, walk, walk, math.nan, 0.0])  # no price now and then
        trades = rng.choice([None, [], [(now, "Sell", 0.5)]])
        value = rng.choice([0.2, -0.3, math.nan, None])
        ex.update(now, price, trades, value)
        if price == price and price > 0.0:
            short.add(now, price)
            long.add(now, price)
            extrema.update(now, price)
        if trades:
            flow.add(trades)
        flow.advance(now)
        if value is not None and value == value:
            imbalance.add(now, value)
        assert flow_state(ex.flow) == flow.state(), step
        assert ex.velocity("short") == short.velocity(now, ex.price), step
        assert ex.velocity("long") == long.velocity(now, ex.price), step
        assert list(ex._imbalance.q) == list(imbalance.q) and ex._imbalance.abs_sum == imbalance.abs_sum, step
        assert (ex.extrema.high(), ex.extrema.low()) == (extrema.high(), extrema.low()), step


def test_update_appending_later_moments_itself_keeps_the_price_log_bounded():
    """update appends a later moment to the price log itself (add's usual case): the log is still compacted
    as add compacts it, and reads as the plain windows."""
    settings = TakeProfit(velocity_short_window_sec=3.0, velocity_long_window_sec=15.0)
    ex, long = AdvancedExits(settings), PlainPriceAt(15_000.0)
    for i in range(5_000):  # one sample every 10 ms, never the same moment twice: 1,500 in the long window
        now, price = T0 + 10 * i, 100.0 + (i % 7)
        ex.update(now, price)
        long.add(now, price)
        assert len(ex._prices.ms) < 1_501 + _PriceWindows.COMPACT_EVERY
        assert ex.velocity("long") == long.velocity(now, price)


def test_check_is_the_first_of_check_all_in_every_state():
    """`check` and `check_all` share one loop: check returns what check_all lists first, and the
    rules after the profit gate run only in profit (a NaN profit, from a zero entry, passes the gate
    as before)."""
    settings = TakeProfit(min_profit_percent=0.0)
    rng = random.Random(1)
    ex = AdvancedExits(settings)
    now, price = T0, 100.0
    fired = set()
    for _ in range(600):
        now += rng.choice([100, 500, 1_000])
        price += rng.choice([-0.3, -0.1, 0.1, 0.3])
        ex.update(now, price, [(now, rng.choice(["Buy", "Sell"]), rng.choice([0.1, 2.0]))], rng.uniform(-1, 1))
        for side in (LONG, SHORT):
            pos = ManagedPosition(side, rng.choice([99.0, 100.0, 101.0]), kind="breakout",
                                  density_price=100.0, broken_extreme=rng.choice([None, 100.5]))
            same = dataclasses.replace(pos)
            every = ex.check_all(pos, now)
            first = ex.check(same, now)
            assert first == (every[0] if every else None)
            fired.update(d.reason for d in every)
    assert fired == {"return_to_range", "aggressive_reversal", "momentum_slowdown"}
