"""One parameter set -> the backtest's performance figures, bit for bit, from cached stages.

A trial runs exactly the kernels `run_backtest` runs, on the same prepared candles, with the same
config objects feeding them (`enabled_scorers`, `weight_vector`, `scoring_params`, `sim_params`,
`performance`): only the order of work differs.

1. Indicator rows, per indicator group and its own parameters (`Group.key`), and the MTF trend
   row, per timeframes, methods and period (`MtfConfluence.key`): computed once, cached.
2. Unit rows (`unit_range`, each scorer at weight 1), per scorer, the groups behind its features
   and its own scoring parameters (`SCORER_INPUTS`): computed once, cached.
3. Per trial: `combine_range` (weights and filters), `finalise_range` (threshold, hysteresis,
   cooldown), `simulate_range` (positions) and the report's `performance` figures.

A trial that only changes weights, thresholds or stop multiples pays for step 3 alone.
"""

from __future__ import annotations

import copy
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from whale.backtest import simulate as sim
from whale.backtest.runner import performance, sim_params
from whale.config.loader import config_with_changes
from whale.config.model import Config
from whale.errors import BadInputError
from whale.optimize.cache import DEFAULT_BUDGET, RowCache, UnitSlab
from whale.optimize.market import Market
from whale.strategy import feature_ids as fi
from whale.strategy import scorers as sc
from whale.strategy.analyzer import Analyzer, warm_up_jit
from whale.strategy.buffer import FeatureBuffer, Group
from whale.strategy.features import CANDLE_ROWS, build_groups, enabled_scorers, weight_vector
from whale.strategy.finaliser import finalise_range, new_state
from whale.strategy.mtf import MtfConfluence
from whale.strategy.scoring import (
    P_ADX_TREND_MULT,
    SCORER_INPUTS,
    TREND_MULT_FEATURES,
    TREND_MULT_PARAMS,
    combine_range,
    scoring_params,
    unit_range,
)

CANDLE_FEATURES = frozenset(fi.F[name] for name in CANDLE_ROWS)
LIVE_FEATURES = frozenset((fi.F_BOOK_IMB, fi.F_DENSITY))


class TrialError(Exception):
    """This parameter set cannot be run (an invalid config, too little data): the trial fails with
    this message, the study goes on."""


@dataclass
class Evaluation:
    metrics: dict[str, Any]
    # Kept only when asked (the best trial's statistics): report-range arrays.
    ts: np.ndarray | None = None
    equity: np.ndarray | None = None
    trades: np.ndarray | None = None
    scores: np.ndarray | None = None
    signals: np.ndarray | None = None


def apply_params(base: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """The config dict of a trial: `base` (a config as JSON data) with each dotted key set; the
    sections on the way are copied, `base` is left as it was."""
    data = dict(base)
    for path, value in params.items():
        node = data
        *parents, leaf = path.split(".")
        for p in parents:
            child = node.get(p)
            node[p] = dict(child) if isinstance(child, dict) else {}
            node = node[p]
        node[leaf] = copy.deepcopy(list(value) if isinstance(value, tuple) else value)
    return data


@dataclass
class _Trial:
    cfg: Config
    enabled: np.ndarray
    params: np.ndarray
    groups: dict[str, Group]  # feature row -> the group that writes it
    mtf: MtfConfluence | None


class Evaluator:
    """Evaluates parameter sets on one market. Long-lived: one per worker process, so its caches and
    numba's compiled code serve every trial the worker runs.

    Several markets (a portfolio) are the natural extension: a list of these, one per symbol, feeding
    the portfolio backtest once it exists (issue 12); today the commands accept one data file.
    """

    def __init__(self, base: Config, market: Market, *, cache_bytes: int = DEFAULT_BUDGET) -> None:
        self.base = base
        self.market = market
        n = len(market)
        self.n = n
        self.groups = RowCache(cache_bytes // 4)
        self.units = UnitSlab(n, cache_bytes - cache_bytes // 4)
        c = market.candles
        self._candle_rows = {"open": c.open, "high": c.high, "low": c.low, "close": c.close, "volume": c.volume}
        self._mtf_cache: dict[tuple, MtfConfluence] = {}
        self._groups_cache: dict[tuple, dict[str, Group]] = {}
        self._warmup_cache: dict[tuple, int] = {}
        # Per-trial work arrays, reused.
        self._scores = np.full(n, np.nan)
        self._ready = np.zeros(n, dtype=np.bool_)
        self._signals = np.zeros(n, dtype=np.int8)
        self._cooled = np.zeros(n, dtype=np.bool_)
        self._equity = np.zeros(n)
        self._in_pos = np.zeros(n, dtype=np.bool_)
        self._trade_buf = np.zeros((4096, sim.N_TRADE_FIELDS))
        self._bd = np.zeros((sc.N_SCORERS, 1))
        warm_up_jit(base)

    # ---- configs ----------------------------------------------------------------------------------
    def config_for(self, params: Mapping[str, Any]) -> Config:
        """The trial's config, validated as `backtest` validates best-config.json (the same checks
        of each changed key and of the rules between keys: config_with_changes)."""
        try:
            return config_with_changes(self.base, dict(params), source="trial config")
        except BadInputError as exc:
            raise TrialError(str(exc).replace("\n  ", " ")) from exc

    # ---- evaluation -------------------------------------------------------------------------------
    def evaluate_params(self, params: Mapping[str, Any], keep: bool = False) -> Evaluation:
        return self.evaluate(self.config_for(params), keep)

    def evaluate(self, cfg: Config, keep: bool = False) -> Evaluation:
        m = self.market
        n = self.n
        t = self._trial(cfg)
        self.units.new_trial()
        uidx = np.full(sc.N_SCORERS, -1, dtype=np.int64)
        for s in np.flatnonzero(t.enabled):
            uidx[s] = self._unit_slot(t, int(s))
        scores, ready, signals, cooled = self._scores, self._ready, self._signals, self._cooled
        combine_range(self.units.rows, uidx, t.enabled, weight_vector(cfg), 0, n, scores, ready, 0, self._bd, False)
        finalise_range(scores, ready, m.close_s, cfg.signal_score_threshold, cfg.hysteresis_ratio,
                       float(cfg.cooldown_sec), new_state(), 0, n, signals, cooled)
        first_ready = int(np.argmax(ready)) if ready.any() else n
        if first_ready >= n:
            raise TrialError("the strategy never finished warming up on this data")
        self._check_warmup(t, first_ready)
        trades = self._simulate(cfg, t, scores, ready, signals)
        report_from = max(m.trade_from, first_ready)
        ts = m.candles.ts[report_from:]
        equity = self._equity[report_from:]
        metrics = {"bars": int(len(ts)), "warmup_bars": int(report_from),
                   **performance(cfg, ts, m.candles.interval, trades, equity, self._in_pos[report_from:])}
        if not keep:
            return Evaluation(metrics)
        return Evaluation(metrics, ts.copy(), equity.copy(), trades, scores[report_from:].copy(),
                          signals[report_from:].copy())

    def _simulate(self, cfg: Config, t: _Trial, scores: np.ndarray, ready: np.ndarray,
                  signals: np.ndarray) -> np.ndarray:
        m = self.market
        c = m.candles
        n = self.n
        P = sim_params(cfg, m.instrument, c.interval, m.trade_from)
        state = sim.new_state(cfg.trade_management.account_balance)
        atr = self._group_rows(t.groups["atr"])["atr"]
        buf = self._trade_buf
        parts = []
        k, n_trades = 0, 0
        while k < n:
            k, n_trades = sim.simulate_range(c.open, c.high, c.low, c.close, c.ts, atr, signals, scores, ready, k, n,
                                             0, P, state, buf, n_trades, self._equity, self._in_pos)
            if k < n:
                parts.append(buf[:n_trades].copy())
                n_trades = 0
        n_trades = sim.close_at_end(P, state, buf, n_trades, n - 1, int(c.ts[-1]), float(c.close[-1]))
        parts.append(buf[:n_trades].copy())
        self._equity[-1] = state[sim.S_BALANCE]
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    # ---- per-trial structure ----------------------------------------------------------------------
    def _trial(self, cfg: Config) -> _Trial:
        enabled = enabled_scorers(cfg, False)
        mtf = self._mtf(cfg) if enabled[sc.S_MTF] else None
        params = scoring_params(cfg, mtf.entries if mtf else 1)
        # build_groups reads the indicator settings and toggles and the enabled scorers, nothing else.
        pre = (cfg.indicator_settings, cfg.indicators, enabled.tobytes())
        groups = self._groups_cache.get(pre)
        if groups is None:
            if len(self._groups_cache) > 4096:
                self._groups_cache.clear()
            groups = self._groups_cache[pre] = {row: g for g in build_groups(cfg, enabled) for row in g.writes}
        return _Trial(cfg, enabled, params, groups, mtf)

    def _mtf(self, cfg: Config) -> MtfConfluence:
        pre = (cfg.mtf_analysis, cfg.indicator_settings)
        mtf = self._mtf_cache.get(pre)
        if mtf is None:
            if len(self._mtf_cache) > 256:
                self._mtf_cache.clear()
            mtf = self._mtf_cache[pre] = MtfConfluence(cfg)
        return mtf

    def _check_warmup(self, t: _Trial, first_ready: int) -> None:
        """The backtest refuses data shorter than the Analyzer's warm-up (+1); a trial that becomes
        ready well before the end cannot be refused, so the exact check runs only near the end."""
        if first_ready + 2048 < self.n:
            return
        key = (tuple(g.key for g in t.groups.values()), t.mtf.key if t.mtf else None,
               t.cfg.indicator_settings.ichimoku_chikou_span_offset)
        need = self._warmup_cache.get(key)
        if need is None:
            need = self._warmup_cache[key] = Analyzer(t.cfg, self.market.candles.interval, capacity=1).warmup_candles
        if self.n < need + 1:
            raise TrialError(f"{self.n} candles are fewer than the {need} this trial needs for warm-up, plus one")

    # ---- cached stages ----------------------------------------------------------------------------
    def _feature_key(self, t: _Trial, f: int) -> Hashable:
        if f in CANDLE_FEATURES:
            return "candles"
        if f == fi.F_MTF_NET:
            return ("mtf", t.mtf.key if t.mtf else None)
        return t.groups[fi.FEATURE_NAMES[f]].key

    def _unit_slot(self, t: _Trial, s: int) -> int:
        features, params, trend = SCORER_INPUTS[s]
        uses_tm = trend and t.params[P_ADX_TREND_MULT] > 0.0
        feats = tuple(features) + (TREND_MULT_FEATURES if uses_tm else ())
        key = (s, tuple(self._feature_key(t, f) for f in feats), tuple(float(t.params[j]) for j in params),
               tuple(float(t.params[j]) for j in TREND_MULT_PARAMS) if trend else ())

        def fill(U: np.ndarray, slot: int) -> None:
            rows = {f: self._feature_row(t, f) for f in feats}
            X = np.empty((len(rows) + 1, self.n))
            X[-1] = np.nan  # features the scorer does not read point here
            fidx = np.full(fi.N_FEATURES, len(rows), dtype=np.int64)
            for j, (f, row) in enumerate(rows.items()):
                X[j] = row
                fidx[f] = j
            enabled = np.zeros(sc.N_SCORERS, dtype=np.bool_)
            enabled[s] = True
            uidx = np.full(sc.N_SCORERS, -1, dtype=np.int64)
            uidx[s] = slot
            unit_range(X, fidx, enabled, t.params, 0, self.n, U, uidx)

        return self.units.slot(key, fill)

    def _feature_row(self, t: _Trial, f: int) -> np.ndarray:
        name = fi.FEATURE_NAMES[f]
        if f in CANDLE_FEATURES:
            return self._candle_rows[name]
        if f == fi.F_MTF_NET:
            mtf = t.mtf
            assert mtf is not None
            return self.groups.get(("mtf", mtf.key), lambda: {"mtf_net": self._mtf_row(t.cfg)})["mtf_net"]
        return self._group_rows(t.groups[name])[name]

    def _mtf_row(self, cfg: Config) -> np.ndarray:
        mtf = MtfConfluence(cfg)
        for htf in mtf.trends:
            mtf.add(htf, self.market.htf(htf))
        return mtf.net_at(self.market.close_ms)

    def _group_rows(self, g: Group) -> dict[str, np.ndarray]:
        if any(r not in CANDLE_ROWS for r in g.reads):
            raise ValueError(f"group {g.name} reads {g.reads}: the optimiser computes groups from candles alone")

        def make() -> dict[str, np.ndarray]:
            c = self.market.candles
            buf = FeatureBuffer(CANDLE_ROWS, [g], capacity=self.n)
            buf.append(c.ts, self._candle_rows)
            return {w: buf.X[buf.rows[w], : self.n].copy() for w in g.writes if w in fi.F}

        return self.groups.get(g.key, make)


def evaluate_many(evaluator: Evaluator, batch: Sequence[tuple[int, dict[str, Any]]]) -> list[tuple[int, Any]]:
    """[(trial number, params)] -> [(trial number, metrics dict or the TrialError message)]."""
    out: list[tuple[int, Any]] = []
    for number, params in batch:
        try:
            out.append((number, evaluator.evaluate_params(params).metrics))
        except TrialError as exc:
            out.append((number, str(exc)))
    return out

