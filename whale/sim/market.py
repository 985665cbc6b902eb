"""One symbol's public market as the replay has shown it so far: last trade, the candle in progress,
recent taker trades, and the ticker, orderbook and recent-trade answers built from them. Times are
replay time.

A symbol whose candles start after the replay's start is not trading until its first candle plays
(`trading` is False): until then it shows no price, ticker, book or trades."""

from __future__ import annotations

import random
import uuid
from collections import deque

from whale.config.model import Fees
from whale.fills import FUNDING_PERIOD_MS
from whale.sim.book import Book
from whale.sim.clock import ReplayClock
from whale.sim.levels import WireLevels
from whale.sim.payloads import money
from whale.sim.tape import Tape

# A trade: (T ms, "Buy"/"Sell", qty in steps, price in ticks, tickDirection, trade number, seq)
Trade = tuple[int, str, int, int, str, int, int]


class Market(WireLevels):
    def __init__(self, tape: Tape, book: Book, clock: ReplayClock, fees: Fees, start_index: int) -> None:
        self.tape = tape
        self.inst = tape.instrument
        self.book = book
        self.clock = clock
        self.fees = fees
        self.closed = start_index  # base candles that have closed
        self.forming: tuple[int, int] | None = None
        c = tape.candles
        ref = max(0, start_index - 1)  # before its first candle: where that candle will open
        self.last_tick = int(round((c.close[ref] if start_index else c.open[0]) / self.inst.tick))
        self.buyer_last = bool(c.close[ref] >= c.open[ref]) if start_index else True
        self.tick_dir = "ZeroPlusTick"
        self.trades: deque[Trade] = deque(maxlen=1000)
        self.pending: list[Trade] = []
        self.seq = 7_000_000_000
        self.trade_no = 0
        self._trade_prefix = str(uuid.uuid4())[:24]  # trade ids unique across runs, as Bybit's
        self._burst_rng = random.Random(f"{self.inst.symbol}-bursts")  # stream-rate mode's extra prints
        book.set_price(self.last_tick, self.buyer_last, clock.now_ms())

    @property
    def last_price(self) -> float:
        return self.last_tick * self.inst.tick

    @property
    def trading(self) -> bool:
        """False until the symbol's first candle plays (its data starts after the replay's start)."""
        return self.closed > 0 or self.forming is not None

    def play(self, i: int, k: int, tick: int, now: int, qty_steps: int) -> None:
        """Candle i's tick k: a taker trade of `qty_steps` at `tick` (tick index) at replay time `now`."""
        prev = self.last_tick
        if tick > prev:
            self.buyer_last, self.tick_dir = True, "PlusTick"
        elif tick < prev:
            self.buyer_last, self.tick_dir = False, "MinusTick"
        else:
            self.tick_dir = "ZeroPlusTick" if self.buyer_last else "ZeroMinusTick"
        self.last_tick = tick
        self.clock.set(now)
        self.forming = (i, k)
        self.seq += 1
        self.trade_no += 1
        trade = (now, "Buy" if self.buyer_last else "Sell", qty_steps, tick, self.tick_dir, self.trade_no, self.seq)
        self.trades.append(trade)
        self.pending.append(trade)
        self.book.set_price(tick, self.buyer_last, now)

    def close_candle(self, i: int) -> None:
        self.closed = i + 1
        self.forming = None

    def burst(self, now: int) -> list[Trade]:
        """Stream-rate mode: 0-5 small prints at the last price (the taker side of the last trade), as
        a busy market shows between the replay's ticks. They move neither the price nor the candles."""
        rng = self._burst_rng
        count = rng.choice((0, 1, 1, 2, 2, 3, 4, 5))
        base = max(1, int(self.book.base_steps))
        side = "Buy" if self.buyer_last else "Sell"
        direction = "ZeroPlusTick" if self.buyer_last else "ZeroMinusTick"
        out: list[Trade] = []
        for _ in range(count):
            self.seq += 1
            self.trade_no += 1
            out.append((now, side, max(1, int(base * rng.uniform(0.02, 0.3))), self.last_tick, direction,
                        self.trade_no, self.seq))
        self.trades.extend(out)
        return out

    # ------------------------------------------------------------------ public answers

    def trade_id(self, number: int) -> str:
        return f"{self._trade_prefix}{number:012x}"

    def ticker(self) -> dict[str, str]:
        """The linear ticker as the WebSocket snapshot carries it (all strings)."""
        tape, inst = self.tape, self.inst
        tick = inst.tick
        last = self.last_price
        idx = self.forming[0] if self.forming else self.closed
        high, low = float(tape.high24[idx]), float(tape.low24[idx])
        vol, turn = float(tape.vol24[idx]), float(tape.turn24[idx])
        if self.forming:
            i, k = self.forming
            high = max(high, tape.run_high(i, k) * tick)
            low = min(low, tape.run_low(i, k) * tick)
            frac = (k + 1) / tape.k
            vol += float(tape.candles.volume[i]) * frac
            turn += float(tape.turnover[i]) * frac
        prev24 = float(tape.prev24[idx])
        oi = float(tape.vol24[idx]) / 2.0
        bid, bsz, ask, asz = self.book.best()
        step = inst.step
        now = self.clock.now_ms()
        return {
            "symbol": inst.symbol, "tickDirection": self.tick_dir,
            "price24hPcnt": f"{(last / prev24 - 1.0) if prev24 else 0.0:.6f}", "lastPrice": inst.fmt_price(last),
            "prevPrice24h": inst.fmt_price(prev24), "highPrice24h": inst.fmt_price(high),
            "lowPrice24h": inst.fmt_price(low), "prevPrice1h": inst.fmt_price(float(tape.prev1h[idx])),
            "markPrice": inst.fmt_price(last), "indexPrice": inst.fmt_price(last), "openInterest": inst.fmt_qty(oi),
            "openInterestValue": f"{oi * last:.2f}", "turnover24h": f"{turn:.4f}", "volume24h": f"{vol:.4f}",
            "fundingIntervalHour": "8", "fundingCap": "0.005",
            "nextFundingTime": str((now // FUNDING_PERIOD_MS + 1) * FUNDING_PERIOD_MS),
            "fundingRate": money(self.fees.funding_rate_8h), "bid1Price": inst.fmt_price(bid * tick),
            "bid1Size": inst.fmt_qty(bsz * step), "ask1Price": inst.fmt_price(ask * tick),
            "ask1Size": inst.fmt_qty(asz * step), "preOpenPrice": "", "preQty": "", "curPreListingPhase": "",
        }

    def ticker_rest(self) -> dict[str, str]:
        t = self.ticker()
        del t["tickDirection"]
        t.update(predictedDeliveryPrice="", basisRate="", deliveryFeeRate="", deliveryTime="0", basis="",
                 basisRateYear="")
        return t

    def trade_rest(self, t: Trade) -> dict:
        return {"execId": self.trade_id(t[5]), "symbol": self.inst.symbol,
                "price": self.inst.fmt_price(t[3] * self.inst.tick),
                "size": self.inst.fmt_qty(t[2] * self.inst.step), "side": t[1], "time": str(t[0]),
                "isBlockTrade": False, "isRPITrade": False, "seq": str(t[6])}

    def trade_ws(self, t: Trade) -> dict:
        return {"T": t[0], "s": self.inst.symbol, "S": t[1], "v": self.inst.fmt_qty(t[2] * self.inst.step),
                "p": self.inst.fmt_price(t[3] * self.inst.tick), "L": t[4], "i": self.trade_id(t[5]), "BT": False,
                "RPI": False, "seq": t[6]}
