"""Multi-timeframe trend confluence without look-ahead, in the original's normalised form
(docs/strategy.md#multi-timeframe-trend).

Each higher timeframe has its own feature buffer, fed its closed candles: all at once in a
backtest (resampled from the data file), one by one in the live loop (from its kline stream).
A primary candle sees only higher-timeframe candles closed by the time it closes itself.
"""

from __future__ import annotations

import numpy as np

from whale.config.model import Config
from whale.market.candles import Candles
from whale.market.intervals import bucket_end, label
from whale.strategy.buffer import FeatureBuffer
from whale.strategy.features import CANDLE_ROWS, spec_group

TREND_NAMES = {1.0: "UP", -1.0: "DOWN", 0.0: "SIDEWAYS"}


class HtfTrend:
    """Trend votes (+1 UP, -1 DOWN, 0 SIDEWAYS, NaN unknown) of one higher timeframe per method."""

    def __init__(self, cfg: Config, interval: str) -> None:
        m = cfg.mtf_analysis
        s = cfg.indicator_settings
        self.interval = interval
        self.methods = tuple(m.trend_indicators)
        self.trend_period = m.trend_period
        groups = []
        if "sma" in self.methods:
            groups.append(spec_group("sma", "htf_sma", {"x": "close"}, {"out": "sma"}, period=m.trend_period))
        if "ema" in self.methods:
            groups.append(spec_group("ema", "htf_ema", {"x": "close"}, {"out": "ema"}, period=m.trend_period))
        if "ehlers_supertrend" in self.methods:
            groups.append(spec_group("ehlers_supertrend", "htf_st", {}, {"direction": "st_dir"},
                                     period=s.ehlers_slow_period, multiplier=s.ehlers_slow_multiplier))
        self.buffer = FeatureBuffer(CANDLE_ROWS, groups, capacity=4096)
        self.close_ts = np.zeros(0, dtype=np.int64)
        self.votes = np.zeros((len(self.methods), 0))
        self.count = 0

    @property
    def key(self) -> tuple:
        """What the votes depend on besides the candles (the optimiser's cache key)."""
        return (self.interval, self.methods, self.trend_period, tuple(g.key for g in self.buffer.groups))

    @property
    def warmup(self) -> int:
        """Higher-timeframe candles before every vote is known."""
        return max([self.trend_period] + [g.lookback + 1 for g in self.buffer.groups])

    @property
    def history(self) -> int:
        """Higher-timeframe candles a cold start needs so its votes match a full-history run."""
        return max([self.warmup] + [g.history + 1 for g in self.buffer.groups])

    def add(self, candles: Candles) -> None:
        """Closed higher-timeframe candles, in time order, newer than any added before."""
        if len(candles) == 0:
            return
        if len(self.close_ts) and candles.ts[0] < self.close_ts[-1]:
            raise ValueError(f"{label(self.interval)} candles must be added in time order")
        buf = self.buffer
        start, end = buf.append(candles.ts, {"open": candles.open, "high": candles.high, "low": candles.low,
                                             "close": candles.close, "volume": candles.volume})
        close = buf.X[buf.rows["close"], start:end]
        votes = np.full((len(self.methods), end - start), np.nan)
        seen = self.count + np.arange(1, end - start + 1)
        for j, method in enumerate(self.methods):
            if method in ("sma", "ema"):
                ma = buf.X[buf.rows[method], start:end]
                v = np.sign(close - ma)
            else:
                d = buf.X[buf.rows["st_dir"], start:end]
                v = np.where((d == 1.0) | (d == -1.0), d, np.nan)
            v[seen < self.trend_period] = np.nan
            votes[j] = v
        self.count += end - start
        self.close_ts = np.concatenate([self.close_ts, bucket_end(candles.ts, self.interval)])
        self.votes = np.concatenate([self.votes, votes], axis=1)

    def votes_at(self, close_ms: np.ndarray) -> np.ndarray:
        """(methods, m) votes of the last candle closed at or before each time; NaN when none."""
        idx = np.searchsorted(self.close_ts, close_ms, side="right") - 1
        out = np.full((len(self.methods), len(close_ms)), np.nan)
        ok = idx >= 0
        out[:, ok] = self.votes[:, idx[ok]]
        return out

    def latest(self) -> dict[str, str]:
        """{"60_ema": "UP", ...} from the newest candle (the live display)."""
        if self.votes.shape[1] == 0:
            return {f"{self.interval}_{m}": "UNKNOWN" for m in self.methods}
        return {f"{self.interval}_{m}": TREND_NAMES.get(float(v), "UNKNOWN")
                for m, v in zip(self.methods, self.votes[:, -1], strict=True)}


class MtfConfluence:
    """Sum of trend votes over every higher timeframe and method (NaN while any is unknown)."""

    def __init__(self, cfg: Config) -> None:
        self.trends = {htf: HtfTrend(cfg, htf) for htf in cfg.mtf_analysis.higher_timeframes}

    @property
    def key(self) -> tuple:
        return tuple(t.key for t in self.trends.values())

    @property
    def entries(self) -> int:
        return sum(len(t.methods) for t in self.trends.values())

    def add(self, interval: str, candles: Candles) -> None:
        self.trends[interval].add(candles)

    def net_at(self, close_ms: np.ndarray) -> np.ndarray:
        total = np.zeros(len(close_ms))
        for t in self.trends.values():
            total += t.votes_at(close_ms).sum(axis=0)  # NaN propagates: unknown -> not ready
        return total

    def latest(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for t in self.trends.values():
            out.update(t.latest())
        return out
