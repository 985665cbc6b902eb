"""One symbol's public market in `sim --book`: what the recording has shown so far (book, trades,
tickers) and the candles built from its trades.

- **Candles** come from the recorded prints (`whale.market.trade_candles`, the function
  `backtest --book` uses too): built once for the whole recording when the simulator starts, so
  REST serves the candles before the replay's start as history; the candle in progress is the same
  function applied to the prints of its minute played so far. Recorded klines are not served.
- **Tickers** are the recorded ones, merged. A recording that left out the best bid and ask (the
  writer's default) gets them from the book; one without tickers (a Tardis import) shows the last
  print's price as lastPrice, markPrice and indexPrice.
- **Trades** keep their recorded time, side, price, size and seq; a print without an id (the
  writer's default) gets one (unique across runs, as Bybit's). The tick direction comes from the
  prices.
"""

from __future__ import annotations

import uuid
from collections import deque
from typing import Any

import numpy as np

from whale.market.trade_candles import TradeCandles, trade_candles
from whale.recording.reader import TickerEvent, TradeEvent
from whale.sim.clock import ReplayClock
from whale.sim.instrument import SimInstrument
from whale.sim.levels import WireLevels
from whale.sim.recorded_book import RecordedBook
from whale.sim.tape import Tape

FULL = 3  # BookTape's `k - 1`: forming (i, FULL) is candle i complete (the feed asks so at a close)

# A print: (T ms, "Buy"/"Sell"/"", qty in steps, price in ticks, tickDirection, trade id, seq, block trade)
Print = tuple[int, str, int, int, str, str, int | None, bool]


class BookTape(Tape):
    """The candles built from the recording's trades, with the klines of every interval the candle
    tape serves (`Tape.kline_rows`); the candle in progress is built from the prints of its minute
    played so far (`add_print`)."""

    def __init__(self, built: TradeCandles, instrument: SimInstrument) -> None:
        super().__init__(built.candles, instrument, FULL + 1)
        self.turnover = built.turnover
        self._cum_turnover = np.concatenate(([0.0], np.cumsum(self.turnover)))
        self._live_i = -1
        self._live: tuple[list[int], list[float], list[float]] = ([], [], [])
        self._part: tuple[int, tuple[float, float, float, float, float, float]] | None = None

    def add_print(self, i: int, ts: int, price: float, size: float) -> None:
        """A print of candle i played."""
        if i != self._live_i:
            self._live_i = i
            self._live = ([], [], [])
        self._live[0].append(ts)
        self._live[1].append(price)
        self._live[2].append(size)
        self._part = None

    def forming_part(self, i: int, k: int) -> tuple[float, float, float, float, float, float]:
        c = self.candles
        if k >= FULL:
            return (float(c.open[i]), float(c.high[i]), float(c.low[i]), float(c.close[i]), float(c.volume[i]),
                    float(self.turnover[i]))
        if self._part is not None and self._part[0] == i:
            return self._part[1]
        start = int(c.ts[i])
        prev = float(c.close[i - 1]) if i > 0 else float(c.open[i])
        ts, px, sz = self._live if self._live_i == i else ([], [], [])
        got = trade_candles(np.array(ts, dtype=np.int64), np.array(px), np.array(sz), self.interval,
                            start_ms=start, end_ms=start + self.base_ms, prev_close=prev)
        g, turn = got.candles, got.turnover
        part = (float(g.open[0]), float(g.high[0]), float(g.low[0]), float(g.close[0]), float(g.volume[0]),
                float(turn[0]))
        self._part = (i, part)
        return part


class BookMarket(WireLevels):
    def __init__(self, tape: BookTape, book: RecordedBook, clock: ReplayClock, start_index: int, last_tick: int,
                 ticker_top: bool) -> None:
        self.tape = tape
        self.inst: SimInstrument = tape.instrument
        self.book = book
        self.clock = clock
        self.closed = start_index  # candles closed so far (those before the replay are history)
        self.forming: tuple[int, int] | None = None
        self.last_tick = last_tick
        self.buyer_last = True
        self.tick_dir = "ZeroPlusTick"
        self.trades: deque[Print] = deque(maxlen=1000)
        self.pending: list = []  # the candle feed's queue of trades: unused (trades go out as recorded)
        self.seq = 0  # Bybit's cross sequence: the recording's, where it has one
        self.ticker_top = ticker_top  # the recorded tickers carry the best bid and ask
        self.ticker_fields: dict[str, Any] = {}
        self.has_ticker = False
        self.started = False
        self._trade_prefix = str(uuid.uuid4())[:24]
        self._trade_no = 0

    @property
    def trading(self) -> bool:
        """From the first recorded book snapshot on."""
        return self.started

    @property
    def last_price(self) -> float:
        return self.last_tick * self.inst.tick

    # ------------------------------------------------------------------ the replay

    def begin_candle(self, i: int) -> None:
        self.forming = (i, 0)

    def close_candle(self, i: int) -> None:
        self.closed = i + 1
        self.forming = None

    def on_book(self, seq: int | None) -> None:
        self.started = self.started or self.book.known
        self.seq = seq if seq is not None else self.seq + 1

    def on_trades(self, ev: TradeEvent) -> list[Print]:
        """The prints of a recorded publicTrade message, as the market keeps them."""
        tick, step = self.inst.tick, self.inst.step
        out = []
        candle_ts = self.tape.candles.ts
        for t in ev.trades:
            price_tick = round(t.price / tick)
            prev = self.last_tick
            if price_tick > prev:
                self.buyer_last, self.tick_dir = True, "PlusTick"
            elif price_tick < prev:
                self.buyer_last, self.tick_dir = False, "MinusTick"
            else:
                self.tick_dir = "ZeroPlusTick" if self.buyer_last else "ZeroMinusTick"
            self.last_tick = price_tick
            trade_id = t.trade_id
            if not trade_id:
                self._trade_no += 1
                trade_id = f"{self._trade_prefix}{self._trade_no:012x}"
            p: Print = (t.ts, t.side, round(t.size / step), price_tick, self.tick_dir, trade_id, t.seq, t.block)
            out.append(p)
            self.trades.append(p)
            if self.forming is not None:
                i = self.forming[0]
                if int(candle_ts[i]) <= t.ts < int(candle_ts[i]) + self.tape.base_ms:
                    self.tape.add_print(i, t.ts, t.price, t.size)
        return out

    def on_ticker(self, ev: TickerEvent) -> dict[str, Any]:
        """Merge a recorded ticker message; returns the fields it changed."""
        fields = {k: v for k, v in ev.data.items() if k != "symbol"}
        if ev.snapshot:
            self.ticker_fields = dict(fields)
        else:
            self.ticker_fields.update(fields)
        self.has_ticker = True
        if ev.cs is not None:
            self.seq = max(self.seq, ev.cs)
        return fields

    # ------------------------------------------------------------------ public answers

    def top(self) -> dict[str, str]:
        """The best bid and ask from the book, as a ticker carries them."""
        bid, bsz, ask, asz = self.book.best()
        fp, fq = self.inst.price_text, self.inst.qty_text
        return {"bid1Price": fp(bid), "bid1Size": fq(bsz), "ask1Price": fp(ask), "ask1Size": fq(asz)}

    def ticker(self) -> dict[str, Any]:
        """The merged ticker as a WebSocket snapshot carries it."""
        last = self.inst.price_text(self.last_tick)
        out: dict[str, Any] = {"symbol": self.inst.symbol}
        if not self.has_ticker:
            out.update(lastPrice=last, markPrice=last, indexPrice=last)
        out.update(self.ticker_fields)
        if not self.ticker_top or not self.has_ticker:
            out.update(self.top())
        return out

    def ticker_rest(self) -> dict[str, Any]:
        t = self.ticker()
        t.pop("tickDirection", None)
        return t

    def trade_ws(self, p: Print) -> dict[str, Any]:
        item: dict[str, Any] = {"T": p[0], "s": self.inst.symbol, "S": p[1], "v": self.inst.qty_text(p[2]),
                                "p": self.inst.price_text(p[3]), "L": p[4], "i": p[5], "BT": p[7], "RPI": False}
        if p[6] is not None:
            item["seq"] = p[6]
        return item

    def trade_rest(self, p: Print) -> dict[str, Any]:
        return {"execId": p[5], "symbol": self.inst.symbol, "price": self.inst.price_text(p[3]),
                "size": self.inst.qty_text(p[2]), "side": p[1], "time": str(p[0]), "isBlockTrade": p[7],
                "isRPITrade": False, "seq": str(p[6] if p[6] is not None else 0)}

