"""A day-like public Bybit stream for one symbol, at Bybit's real rates, as the recorder sees it.

    from bench.book_stream import StreamModel, messages
    for msg, recv_us in messages(StreamModel(seed=1), hours=24): ...

Used by bench/bench_recording_disk.py (MB a day) and bench/bench_book_replay.py (a recording to
replay). BTCUSDT-like, and every number below is a parameter of StreamModel:

- **orderbook.200 every 100 ms** (864,000 messages a day), a 200-level book a side on a 0.1 tick,
  dense at the touch (most of the first ~40 ticks held) and thinning out to ~0.3 % away. Each
  delta changes a Poisson number of levels (mean `changes` = 30 over both sides), two thirds of
  them among the 20 levels nearest the touch; of the changes 60 % resize a level, 20 % remove one,
  20 % add one (at an exponential distance of mean 8 ticks from the touch); a resize adds or takes
  an order (half of them round lots of 0.001 to 1 BTC, half log-normal around 0.02 BTC); the book
  is kept at 200 levels a side (adds at the far end, removes there). The
  touch walks: every 100 ms with probability 0.5 it moves 1-5 ticks (1 % of the time 10-40), the
  levels it passes taken out of one side and new ones put in on the other (about $70 an hour).
- **walls**: every ~10 minutes on average a level 30-120x the usual size appears 0.05-0.6 % from
  the mid, erodes now and then, and goes after 2-20 minutes (or is traded through).
- **publicTrade**: messages at 6 a second on average (Poisson), each of 1 + geometric prints
  (mean 2), and one message in 50 a burst of 20-60 prints; sizes log-normal around 0.01 BTC,
  prices at the touch; ids are random UUIDs like Bybit's; ~1.4 M prints a day.
- **tickers** every 100 ms: a delta of the fields that changed (best bid/ask, last price, mark and
  index every second, open interest, 24 h volume and turnover); **kline.1** every 2 s.
- receive times 25 ms after the exchange time plus an exponential jitter of mean 2 ms.
"""

from __future__ import annotations

import math
import uuid
from bisect import bisect_left, insort
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

START_MS = 1_748_736_000_000  # 2025-06-01 00:00 UTC
LOTS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)  # round order sizes in qty steps: 0.001 .. 1 BTC


@dataclass
class StreamModel:
    seed: int = 1
    symbol: str = "BTCUSDT"
    price: float = 95_000.0
    tick: float = 0.1
    step: float = 0.001
    depth: int = 200
    book_ms: int = 100
    changes: float = 30.0
    near_share: float = 0.67
    walk_prob: float = 0.5
    jump_prob: float = 0.01
    wall_every_s: float = 600.0
    trade_rate: float = 6.0
    prints_mean: float = 2.0
    burst_share: float = 0.02
    kline_ms: int = 2_000


class _Side:
    """One side of the book in ticks: a dict (absolute ticks) -> size steps, and the ticks in book order (best
    first) kept sorted level by level, so that picking the k-th level never sorts the whole side (sorting it
    for every change was a third of the generation time)."""

    def __init__(self, sign: int) -> None:
        self.sign = sign  # -1 bids (below the touch), +1 asks
        self.levels: dict[int, int] = {}
        self._keys: list[int] = []  # sign * tick, ascending: the best level first

    def __len__(self) -> int:
        return len(self._keys)

    def put(self, p: int, size: int) -> None:
        """Set the level at tick `p` (a new one or a resize)."""
        if p not in self.levels:
            insort(self._keys, self.sign * p)
        self.levels[p] = size

    def remove(self, p: int) -> None:
        del self.levels[p]
        keys = self._keys
        del keys[bisect_left(keys, self.sign * p)]

    def at(self, k: int) -> int:
        """The tick of the k-th level from the touch (0 the best; -1 the farthest)."""
        return self.sign * self._keys[k]

    def ordered(self) -> list[int]:
        return [self.sign * k for k in self._keys]

    def take_better_than(self, p: int) -> list[int]:
        """Remove the levels better than tick `p` (nearer the other side); their ticks."""
        return self._take(0, bisect_left(self._keys, self.sign * p))

    def take_beyond(self, depth: int) -> list[int]:
        """Remove the levels after the first `depth`; their ticks."""
        return self._take(depth, len(self._keys))

    def _take(self, lo: int, hi: int) -> list[int]:
        keys = self._keys
        gone = [self.sign * k for k in keys[lo:hi]]
        del keys[lo:hi]
        for p in gone:
            del self.levels[p]
        return gone


_INV_2_53 = 1.0 / 9_007_199_254_740_992.0  # 2**-53
_2_32 = 1 << 32
_2_64 = 1 << 64


class _Draws:
    """`random()` and `integers(low, high)` of a fresh numpy PCG64 Generator: the values and the stream position
    numpy's own calls give, bit for bit, at a fraction of their call cost (rng.integers alone takes ~1.2 us a
    call; the stream makes millions of these draws). random() is numpy's next_double: the top 53 bits of the
    next 64-bit word. integers() is numpy's Lemire rejection on a 32-bit half-word when the range fits in 32
    bits (the other half kept for the next such draw, as PCG64 keeps it) and on a 64-bit word otherwise. The
    kept half lives here, not in the bit generator, so every 32-bit draw must come through here; the stream's
    other draws (exponential, lognormal, poisson, geometric, uniform) take whole words. tests/test_book_stream.py
    checks both against numpy's on interleaved draws."""

    def __init__(self, rng: np.random.Generator) -> None:
        state = rng.bit_generator.state
        if state["bit_generator"] != "PCG64" or state.get("has_uint32"):
            raise ValueError(f"_Draws needs a PCG64 generator holding no half-word, not {state['bit_generator']} "
                             f"with has_uint32={state.get('has_uint32')}")
        raw = self._raw = rng.bit_generator.random_raw
        self._half = -1  # the upper half of the last word split into 32-bit draws; -1 none

        def random() -> float:  # a closure, not a method: the stream's most frequent call, ~5 % faster so
            return (raw() >> 11) * _INV_2_53

        self.random: Callable[[], float] = random

    def _next32(self) -> int:
        half = self._half
        if half >= 0:
            self._half = -1
            return half
        word: int = self._raw()
        self._half = word >> 32
        return word & 0xFFFF_FFFF

    def integers(self, low: int, high: int) -> int:
        """rng.integers(low, high): low <= value < high."""
        span = high - low
        if span <= 1:
            if span == 1:
                return low  # numpy draws nothing for a range of one value
            raise ValueError(f"low >= high ({low} >= {high})")
        if span <= _2_32:
            m = self._next32() * span
            leftover = m & 0xFFFF_FFFF
            if leftover < span:
                threshold = (_2_32 - span) % span
                while leftover < threshold:
                    m = self._next32() * span
                    leftover = m & 0xFFFF_FFFF
            return low + (m >> 32)
        if span > _2_64:
            raise ValueError(f"range {low}..{high} exceeds 64 bits")
        m = self._raw() * span
        leftover = m & 0xFFFF_FFFF_FFFF_FFFF
        if leftover < span:
            threshold = (_2_64 - span) % span
            while leftover < threshold:
                m = self._raw() * span
                leftover = m & 0xFFFF_FFFF_FFFF_FFFF
        return low + (m >> 64)


class _Texts(dict[int, str]):
    """`texts[n]` is `fmt(n)`, each made once and then looked up (at most `limit` kept; then all are dropped and
    made again): a stream prints the same few thousand prices and sizes over and over."""

    def __init__(self, fmt: Callable[[int], str], limit: int = 1 << 16) -> None:
        super().__init__()
        self.fmt = fmt
        self.limit = limit

    def __missing__(self, n: int) -> str:
        if len(self) >= self.limit:
            self.clear()
        text = self[n] = self.fmt(n)
        return text


def _size(rng: np.random.Generator, scale: float = 1.0) -> int:
    return max(1, int(rng.lognormal(math.log(300 * scale), 0.9)))  # in 0.001 steps: ~0.3 BTC typical


def messages(model: StreamModel, hours: float) -> Iterator[tuple[dict[str, Any], int]]:
    """(message, receive time in us) in receive order."""
    rng = np.random.default_rng(model.seed)
    draws = _Draws(rng)
    rand, integers = draws.random, draws.integers
    sym = model.symbol
    tick_dec = max(0, -int(math.floor(math.log10(model.tick))))
    step_dec = max(0, -int(math.floor(math.log10(model.step))))
    mid = int(round(model.price / model.tick))
    bids, asks = _Side(-1), _Side(1)

    def px_text(t: int) -> str:
        return f"{t * model.tick:.{tick_dec}f}"

    def qty_text(n: int) -> str:
        return f"{n * model.step:.{step_dec}f}"

    px, qty = _Texts(px_text), _Texts(qty_text)

    def fill(side: _Side, touch: int) -> None:
        off = 0
        while len(side) < model.depth:
            off += 1 + (int(rng.geometric(0.5)) - 1 if off > 40 else (0 if rand() < 0.85 else 1))
            side.put(touch + side.sign * off, _size(rng, 1.0 + off / 400))

    touch = mid  # the bid touch; the ask touch is one tick above
    best_bid, best_ask = touch, touch + 1
    fill(bids, best_bid + 1)
    fill(asks, best_ask - 1)
    best_bid, best_ask = bids.at(0), asks.at(0)  # a fill may start a tick away from the touch
    u = 1_000_000
    seq = 50_000_000_000
    trade_seq = 90_000_000
    walls: list[tuple[_Side, int, int]] = []  # side, price, end ms
    wall_at: set[tuple[int, int]] = set()  # (side sign, price) of the walls
    end_ms = START_MS + int(hours * 3_600_000)
    now = START_MS
    next_trade = now + rng.exponential(1000.0 / model.trade_rate)
    next_kline = now + model.kline_ms
    last_price = mid
    volume = 0
    turnover = 0.0
    kline_open = kline_high = kline_low = last_price
    kline_vol = 0
    kline_start = now - now % 60_000

    def recv(ts: int) -> int:  # a steady connection: 25 ms away, a few ms of jitter
        return ts * 1000 + 25_000 + int(rng.exponential(2_000))

    def book_msg(kind: str, b: dict[int, int], a: dict[int, int], ts: int) -> dict[str, Any]:
        return {"topic": f"orderbook.{model.depth}.{sym}", "type": kind, "ts": ts,
                "data": {"s": sym, "b": [[px[p], qty[s]] for p, s in sorted(b.items(), reverse=True)],
                         "a": [[px[p], qty[s]] for p, s in sorted(a.items())], "u": u, "seq": seq},
                "cts": ts - integers(1, 4)}

    snap_ts = now
    ticker: dict[str, str] = {}
    yield book_msg("snapshot", bids.levels, asks.levels, snap_ts), recv(snap_ts)
    yield ({"topic": f"tickers.{sym}", "type": "snapshot", "ts": now, "cs": seq,
            "data": {"symbol": sym, "tickDirection": "PlusTick", "price24hPcnt": "0.0123", "lastPrice": px[mid],
                     "prevPrice24h": px[mid - 1000], "highPrice24h": px[mid + 5000], "lowPrice24h": px[mid - 9000],
                     "prevPrice1h": px[mid - 100], "markPrice": px[mid], "indexPrice": px[mid - 3],
                     "openInterest": "52000.123", "openInterestValue": "4940011685.00", "turnover24h": "9500000000.0",
                     "volume24h": "100000.000", "nextFundingTime": str(START_MS + 8 * 3_600_000),
                     "fundingRate": "0.0001", "bid1Price": px[best_bid], "bid1Size": qty[bids.levels[best_bid]],
                     "ask1Price": px[best_ask], "ask1Size": qty[asks.levels[best_ask]]}}, recv(now))
    while True:
        now += model.book_ms
        if now >= end_ms:
            return
        # trades due before this book message
        while next_trade < now:
            ts = int(next_trade)
            n = integers(20, 61) if rand() < model.burst_share else int(rng.geometric(1.0 / model.prints_mean))
            taker = "Buy" if rand() < 0.5 else "Sell"
            data = []
            for _ in range(n):
                trade_seq += integers(1, 30)
                size = max(1, int(rng.lognormal(math.log(10), 1.3)))
                price = best_ask if taker == "Buy" else best_bid
                last_price = price
                volume += size
                turnover += size * model.step * price * model.tick
                kline_vol += size
                kline_high = max(kline_high, price)
                kline_low = min(kline_low, price)
                data.append({"T": ts - integers(0, 3), "s": sym, "S": taker, "v": qty[size], "p": px[price],
                             "L": "PlusTick", "i": str(uuid.UUID(int=integers(0, 2**62) << 64 | integers(0, 2**62),
                                                                  version=4)),
                             "BT": False, "seq": trade_seq})
            yield {"topic": f"publicTrade.{sym}", "type": "snapshot", "ts": ts + 2, "data": data}, recv(ts + 2)
            next_trade += rng.exponential(1000.0 / model.trade_rate)
        # the book delta
        db: dict[int, int] = {}
        da: dict[int, int] = {}
        if rand() < model.walk_prob:  # the touch moves: the side it walks into is taken out
            size = integers(10, 41) if rand() < model.jump_prob / model.walk_prob else integers(1, 6)
            move = size * (1 if rand() < 0.5 else -1)
            touch += move
            for p in asks.take_better_than(touch + 1):
                da[p] = 0
            for p in bids.take_better_than(touch):
                db[p] = 0
            new = range(touch - move + 1, touch + 1) if move > 0 else range(touch + 1, touch - move + 1)
            side, out = (bids, db) if move > 0 else (asks, da)
            for p in new:
                if rand() < 0.9:
                    out[p] = level = _size(rng)
                    side.put(p, level)
        count = int(rng.poisson(model.changes))
        for _ in range(count):
            side, out = (bids, db) if rand() < 0.5 else (asks, da)
            r = rand()
            if r >= 0.8:  # a new level, near the touch mostly (the bid touch is `touch`, the ask one above)
                off = int(rng.exponential(8.0)) if rand() < model.near_share else integers(20, 400)
                q = touch - off if side is bids else touch + 1 + off
                if q not in side.levels:
                    out[q] = level = _size(rng)
                    side.put(q, level)
                continue
            held = len(side)
            if not held:
                continue
            k = min(int(rng.exponential(6.0)), 19) if rand() < model.near_share else integers(20, held)
            p = side.at(min(k, held - 1))
            if (side.sign, p) in wall_at:
                continue
            if r < 0.6:  # an order added to the level, or cancelled / filled from it
                lot = LOTS[integers(0, len(LOTS))] if rand() < 0.5 else max(1, int(rng.lognormal(math.log(20), 1.2)))
                side.levels[p] = out[p] = max(1, side.levels[p] + (lot if rand() < 0.5 else -lot))
            else:
                side.remove(p)
                out[p] = 0
        # walls
        if rand() < model.book_ms / 1000.0 / model.wall_every_s:
            side = bids if rand() < 0.5 else asks
            dist = int(round(rng.uniform(0.0005, 0.006) * mid))
            p = (touch - dist) if side is bids else (touch + 1 + dist)
            (db if side is bids else da)[p] = level = _size(rng, float(rng.uniform(30, 120)))
            side.put(p, level)
            walls.append((side, p, now + int(rng.uniform(120_000, 1_200_000))))
        for w in list(walls):
            side, p, until = w
            out = db if side is bids else da
            if p not in side.levels:
                walls.remove(w)
            elif now >= until:
                side.remove(p)
                out[p] = 0
                walls.remove(w)
            elif rand() < 0.01:
                side.levels[p] = out[p] = max(1, int(side.levels[p] * rng.uniform(0.85, 0.98)))
        if walls or wall_at:
            wall_at = {(side.sign, p) for side, p, _ in walls}
        # keep 200 levels a side: the far end follows
        for side, out in ((bids, db), (asks, da)):
            held = len(side)
            for p in side.take_beyond(model.depth):
                out[p] = 0
            if held < model.depth:
                far = side.at(-1) if held else (touch if side is bids else touch + 1)
                while len(side) < model.depth:
                    far += side.sign * integers(1, 6)
                    out[far] = level = _size(rng, 2.0)
                    side.put(far, level)
        best_bid = bids.at(0)
        best_ask = asks.at(0)
        u += 1
        seq += integers(5, 400)
        yield book_msg("delta", db, da, now), recv(now)
        # the ticker delta of this 100 ms
        fields = {"bid1Price": px[best_bid], "bid1Size": qty[bids.levels[best_bid]], "ask1Price": px[best_ask],
                  "ask1Size": qty[asks.levels[best_ask]], "lastPrice": px[last_price],
                  "volume24h": qty_text(100_000_000 + volume), "turnover24h": f"{9.5e9 + turnover:.4f}",
                  "openInterest": qty_text(52_000_000 + volume // 3)}
        if now % 1000 == 0:
            fields.update({"markPrice": px[last_price], "indexPrice": px[last_price - integers(-5, 6)]})
        changed = {k: v for k, v in fields.items() if ticker.get(k) != v}  # a delta carries what changed
        ticker.update(changed)
        if changed:
            yield ({"topic": f"tickers.{sym}", "type": "delta", "ts": now, "cs": seq,
                    "data": {"symbol": sym, **changed}}, recv(now))
        if now >= next_kline:
            next_kline += model.kline_ms
            start = now - now % 60_000
            if start != kline_start:
                kline_start, kline_open, kline_high, kline_low, kline_vol = start, last_price, last_price, last_price, 0
            confirm = now % 60_000 >= 60_000 - model.kline_ms
            yield ({"topic": f"kline.1.{sym}", "type": "snapshot", "ts": now,
                    "data": [{"start": start, "end": start + 59_999, "interval": "1", "open": px[kline_open],
                              "close": px[last_price], "high": px[kline_high], "low": px[kline_low],
                              "volume": qty[kline_vol],
                              "turnover": f"{kline_vol * model.step * last_price * model.tick:.4f}",
                              "confirm": bool(confirm), "timestamp": now}]}, recv(now))


ALL_TOPICS = ("orderbook", "publicTrade", "tickers", "kline")


def write_recording(out: Path, hours: float, seed: int = 1, topics: tuple[str, ...] = ALL_TOPICS) -> Path:
    """`hours` of the stream written by the recorder's writer (its defaults) into `out`. `topics` keeps only
    those streams (e.g. books and trades alone, what a Tardis.dev import holds); the others are still
    generated, so the kept ones are the same messages as in the whole stream."""
    from whale.recording.writer import RecordingWriter

    unknown = set(topics) - set(ALL_TOPICS)
    if unknown:
        raise ValueError(f"unknown stream topic(s) {sorted(unknown)}; choose from {', '.join(ALL_TOPICS)}")
    model = StreamModel(seed=seed)
    writer = RecordingWriter(out, model.symbol, depth=model.depth, price_unit=str(model.tick),
                             size_unit=str(model.step))
    keep = set(topics)
    for msg, recv_us in messages(model, hours):
        if msg["topic"].split(".", 1)[0] in keep:
            writer.write_message(msg, recv_us)
    writer.close()
    return out
