"""The Analyzer: closed candles in, scores and BUY / SELL / HOLD out — the one decision path.

The live loop hands it one closed candle at a time; the backtest hands it chunks of tens of
thousands. Indicators, MTF confluence, scoring and the finaliser all run as range kernels over
the same feature buffer, so both produce bit-identical scores and signals (tests/test_parity.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from whale.config.model import Config
from whale.market.candles import Candles
from whale.market.intervals import bucket_end, interval_ms, label
from whale.strategy import feature_ids as fi
from whale.strategy import scorers as sc
from whale.strategy.buffer import FeatureBuffer
from whale.strategy.features import CANDLE_ROWS, build_groups, enabled_scorers, feature_index, weight_vector
from whale.strategy.finaliser import finalise_range, new_state
from whale.strategy.mtf import MtfConfluence
from whale.strategy.scoring import combine_range, scoring_params, unit_range

LIVE_INPUT_ROWS = ("mtf_net", "book_imbalance", "density")


@dataclass
class Decision:
    """What the live loop needs from one closed candle."""

    ts: int  # the candle's open time (ms)
    score: float  # NaN while warming up
    signal: int  # BUY 1, SELL -1, HOLD 0
    ready: bool
    cooled: bool  # a signal was turned into HOLD by the cooldown
    breakdown: dict[str, float]  # non-zero scorer contributions
    atr: float
    indicators: dict[str, float]  # the feature values of this candle, for the display


class Analyzer:
    def __init__(self, cfg: Config, interval: str, *, capacity: int = 4096, live: bool = False) -> None:
        self.cfg = cfg
        self.interval = interval
        self.live = live
        self.enabled = enabled_scorers(cfg, live)
        self.weights = weight_vector(cfg)
        self.buffer = FeatureBuffer(CANDLE_ROWS, build_groups(cfg, self.enabled), capacity=capacity)
        # The live inputs, then each enabled scorer's unit row (its contribution at weight 1:
        # whale/strategy/scoring.py), added in one copy of the buffer.
        on = np.flatnonzero(self.enabled)
        added = self.buffer.add_rows([*LIVE_INPUT_ROWS, *(f"unit.{sc.SCORER_NAMES[s]}" for s in on)])
        self.fidx = feature_index(self.buffer)
        self.uidx = np.full(sc.N_SCORERS, -1, dtype=np.int64)
        self.uidx[on] = added[len(LIVE_INPUT_ROWS):]
        self.mtf = MtfConfluence(cfg) if self.enabled[sc.S_MTF] else None
        self.params = scoring_params(cfg, self.mtf.entries if self.mtf else 1)
        self.finaliser_state = new_state()
        self._dummy_breakdown = np.zeros((sc.N_SCORERS, 1))

    # ---- warm-up and history -------------------------------------------------------------------
    @property
    def mtf_intervals(self) -> tuple[str, ...]:
        return tuple(self.mtf.trends) if self.mtf else ()

    @property
    def warmup_candles(self) -> int:
        """Candles of this interval before every enabled scorer has its inputs."""
        need = max(g.lookback for g in self.buffer.groups) + 2
        if self.enabled[sc.S_ICHI]:
            need = max(need, self.cfg.indicator_settings.ichimoku_chikou_span_offset + 2)
        if self.mtf:
            step = interval_ms(self.interval)
            for t in self.mtf.trends.values():
                need = max(need, math.ceil((t.warmup + 1) * interval_ms(t.interval) / step) + 1)
        return need

    @property
    def warmup_reason(self) -> str:
        if self.mtf:
            parts = [f"{t.warmup} closed {label(t.interval)} candles for the {label(t.interval)} trend"
                     for t in self.mtf.trends.values()]
            return "MTF needs " + ", ".join(parts)
        return "the slowest enabled indicator"

    def history_needed(self) -> int:
        """Candles the live bot should load so its values match a full-history run (docs)."""
        return max([self.warmup_candles] + [g.history + 2 for g in self.buffer.groups])

    def htf_history_needed(self) -> dict[str, int]:
        """Closed candles of each higher timeframe the live bot should load at start."""
        return {k: t.history for k, t in self.mtf.trends.items()} if self.mtf else {}

    def off_in_backtest(self) -> list[str]:
        off = []
        for s in sc.SCORERS:
            if s.live_only and not self.enabled[s.id]:
                on = all(getattr(self.cfg.indicators, t) for t in s.toggles)
                if s.id == sc.S_DENSITY:
                    on = self.cfg.strategy.mode == "combined"
                if on and (s.weight is None or getattr(self.cfg.active_weights, s.weight) > 0):
                    off.append(f"{s.name} ({s.why_off_in_backtest})")
        off.append("advanced take-profit exits (need the live order book and trades)")
        return off

    # ---- feeding ---------------------------------------------------------------------------------
    def add_htf_candles(self, interval: str, candles: Candles) -> None:
        """Closed higher-timeframe candles (all of them in a backtest, one per close in live)."""
        if self.mtf is not None and interval in self.mtf.trends:
            self.mtf.add(interval, candles)

    def process(self, candles: Candles, *, scores: np.ndarray, ready: np.ndarray, signals: np.ndarray,
                cooled: np.ndarray, out_base: int = 0, breakdown: np.ndarray | None = None,
                book_imbalance: np.ndarray | None = None, density: np.ndarray | None = None) -> tuple[int, int]:
        """Append closed candles and decide on each; results land in the output arrays at out_base.
        Returns the candles' [start, end) in the feature buffer."""
        buf = self.buffer
        start, end = buf.append(candles.ts, {"open": candles.open, "high": candles.high, "low": candles.low,
                                             "close": candles.close, "volume": candles.volume})
        X, rows = buf.X, buf.rows
        close_ms = bucket_end(candles.ts, self.interval)
        X[rows["mtf_net"], start:end] = self.mtf.net_at(close_ms) if self.mtf is not None else np.nan
        X[rows["book_imbalance"], start:end] = np.nan if book_imbalance is None else book_imbalance
        X[rows["density"], start:end] = np.nan if density is None else density
        want = breakdown is not None
        unit_range(X, self.fidx, self.enabled, self.params, start, end, X, self.uidx)
        combine_range(X, self.uidx, self.enabled, self.weights, start, end, scores, ready, out_base,
                      breakdown if want else self._dummy_breakdown, want)
        m = end - start
        close_s = (close_ms // 1000).astype(np.float64)
        finalise_range(scores[out_base:out_base + m], ready[out_base:out_base + m], close_s,
                       self.cfg.signal_score_threshold, self.cfg.hysteresis_ratio, float(self.cfg.cooldown_sec),
                       self.finaliser_state, 0, m, signals[out_base:out_base + m], cooled[out_base:out_base + m])
        return start, end

    def on_closed_candle(self, ts: int, o: float, h: float, lo: float, c: float, v: float, *,
                         book_imbalance: float = math.nan, density: float = math.nan) -> Decision:
        """The live loop's call: one closed candle -> one decision with its breakdown."""
        candle = Candles.from_arrays([ts], [o], [h], [lo], [c], [v], self.interval)
        scores = np.full(1, np.nan)
        ready = np.zeros(1, dtype=np.bool_)
        signals = np.zeros(1, dtype=np.int8)
        cooled = np.zeros(1, dtype=np.bool_)
        bd = np.zeros((sc.N_SCORERS, 1))
        start, _ = self.process(candle, scores=scores, ready=ready, signals=signals, cooled=cooled, breakdown=bd,
                                book_imbalance=np.array([book_imbalance]), density=np.array([density]))
        X, rows = self.buffer.X, self.buffer.rows
        breakdown = {sc.SCORER_NAMES[s]: float(bd[s, 0]) for s in range(sc.N_SCORERS) if bd[s, 0] != 0.0}
        indicators = {name: float(X[self.fidx[f], start]) for f, name in enumerate(fi.FEATURE_NAMES)
                      if f >= fi.N_CANDLE_ROWS and self.fidx[f] >= 0 and name not in LIVE_INPUT_ROWS}
        return Decision(int(ts), float(scores[0]), int(signals[0]), bool(ready[0]), bool(cooled[0]), breakdown,
                        float(X[rows["atr"], start]), indicators)


def synthetic_candles(n: int = 300) -> Candles:
    """A few 15-minute candles of a gentle wave: inputs whose types, not values, matter (compiling)."""
    t = np.arange(n, dtype=np.int64) * 900_000 + 1_700_000_100_000 - 1_700_000_100_000 % 900_000
    wave = 100.0 + np.sin(np.arange(n) / 7.0)
    return Candles.from_arrays(t, wave, wave + 1.0, wave - 1.0, wave + 0.5, np.full(n, 10.0), "15")


def warm_up_jit(cfg: Config) -> None:
    """Compile (or load from numba's cache) every kernel the config uses, on a few synthetic candles,
    so timings measure work rather than compilation."""
    candles = synthetic_candles()
    n = len(candles)
    a = Analyzer(cfg, "15", capacity=512)
    for htf in a.mtf_intervals:
        a.add_htf_candles(htf, candles)  # values do not matter, types do
    out = np.zeros(n)
    a.process(candles, scores=out, ready=np.zeros(n, np.bool_), signals=np.zeros(n, np.int8),
              cooled=np.zeros(n, np.bool_))
