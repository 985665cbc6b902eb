"""One parameter set -> the backtest's performance figures, bit for bit, from cached stages.

A trial runs exactly the kernels `run_portfolio` runs, on the same prepared candles, with the same
config objects feeding them (`symbol_config`, `enabled_scorers`, `weight_vector`, `scoring_params`,
`portfolio_params`, `account_figures`): only the order of work differs.

Per symbol (one `SymbolEvaluator` each, with its own caches):
1. Indicator rows, per indicator group and its own parameters (`Group.key`), and the MTF trend
   row, per timeframes, methods and period (`MtfConfluence.key`): computed once, cached.
2. Unit rows (`unit_range`, each scorer at weight 1), per scorer, the groups behind its features
   and its own scoring parameters (`SCORER_INPUTS`): computed once, cached.
3. Per trial: `combine_range` (weights and filters) and `finalise_range` (threshold, hysteresis,
   cooldown), written straight into the portfolio's flat arrays.
Then, per trial, the account: `simulate_portfolio` (the backtest's one kernel) and the report's
`account_figures`.

A trial that only changes weights, thresholds or stop multiples pays for step 3 and the account.
"""

from __future__ import annotations

import copy
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from whale.backtest import simulate as sim
from whale.backtest.report import SymbolInfo, account_figures
from whale.backtest.runner import fixed_order, portfolio_params, symbol_config
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
    ts: np.ndarray | None = None  # the account's timeline (the union of the symbols' candles)
    equity: np.ndarray | None = None
    trades: np.ndarray | None = None  # T_SYMBOL indexes Evaluator.symbols
    scores: list[np.ndarray] | None = None  # per symbol, over its report range
    signals: list[np.ndarray] | None = None


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
    """Evaluates parameter sets on one market or several (a portfolio on one account, as `backtest
    --data F --data G` runs it). Long-lived: one per worker process, so its caches and numba's compiled
    code serve every trial the worker runs."""

    def __init__(self, base: Config, markets: Market | Sequence[Market], *, cache_bytes: int = DEFAULT_BUDGET) -> None:
        given = [markets] if isinstance(markets, Market) else list(markets)
        if not given:
            raise BadInputError("no --data file given")
        self.base = base
        # The account's fixed order, as run_portfolio orders the symbols (the first entry is sized first).
        self.markets = [given[i] for i in fixed_order(base, [m.symbol for m in given])]
        self.symbols = tuple(m.symbol for m in self.markets)
        self.parts = [SymbolEvaluator(m, cache_bytes // len(self.markets)) for m in self.markets]
        flat = sim.Market.allocate(self.symbols, [len(m) for m in self.markets])
        for k, m in enumerate(self.markets):
            r = flat.part(k)
            c = m.candles
            flat.ts[r], flat.open[r], flat.high[r], flat.low[r], flat.close[r] = c.ts, c.open, c.high, c.low, c.close
        self.flat = flat
        warm_up_jit(base)

    @property
    def name(self) -> str:
        """The data files, as given."""
        return ", ".join(m.name for m in self.markets)

    @property
    def symbol(self) -> str:
        """The symbols, joined with "," as report.json's `symbol`."""
        return ",".join(self.symbols)

    @property
    def interval(self) -> str:
        return self.markets[0].candles.interval

    @property
    def cache_misses(self) -> int:
        """Indicator and unit rows computed so far."""
        return sum(p.groups.misses + p.units.misses for p in self.parts)

    @property
    def candles(self) -> int:
        return sum(len(m) for m in self.markets)

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
        flat = self.flat
        configs = [symbol_config(cfg, s) for s in self.symbols]
        infos = []
        for k, (part, scfg) in enumerate(zip(self.parts, configs, strict=True)):
            r = flat.part(k)
            first_ready = part.decide(scfg, flat.scores[r], flat.ready[r], flat.signals[r], flat.atr[r])
            infos.append(part.info(max(part.market.trade_from, first_ready)))
        P, AP = portfolio_params(cfg, configs, infos)
        run = sim.simulate_portfolio(flat, P, AP)
        report_from = [i.report_from for i in infos]
        metrics, u_from = account_figures(cfg, flat, run, report_from)
        if not keep:
            return Evaluation(metrics)
        parts = [flat.part(k) for k in range(len(infos))]
        return Evaluation(metrics, run.ts[u_from:], run.equity[u_from:], run.trades,
                          [flat.scores[p.start + f:p.stop].copy() for p, f in zip(parts, report_from, strict=True)],
                          [flat.signals[p.start + f:p.stop].copy() for p, f in zip(parts, report_from, strict=True)])


class SymbolEvaluator:
    """One symbol's decisions for a trial (scores, readiness, signals, ATR) from its cached stages."""

    def __init__(self, market: Market, cache_bytes: int) -> None:
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
        self._cooled = np.zeros(n, dtype=np.bool_)
        self._bd = np.zeros((sc.N_SCORERS, 1))

    def info(self, report_from: int) -> SymbolInfo:
        m = self.market
        return SymbolInfo(m.symbol, m.name, m.instrument, m.candles.interval, self.n, m.trade_from, report_from,
                          len(m.data.gaps), m.data.missing_candles, ())

    def decide(self, cfg: Config, scores: np.ndarray, ready: np.ndarray, signals: np.ndarray,
               atr: np.ndarray) -> int:
        """Write the symbol's decisions under `cfg` (its effective config) into the given rows, as the
        Analyzer writes them in the backtest; returns the first ready candle."""
        n = self.n
        t = self._trial(cfg)
        self.units.new_trial()
        uidx = np.full(sc.N_SCORERS, -1, dtype=np.int64)
        for s in np.flatnonzero(t.enabled):
            uidx[s] = self._unit_slot(t, int(s))
        combine_range(self.units.rows, uidx, t.enabled, weight_vector(cfg), 0, n, scores, ready, 0, self._bd, False)
        finalise_range(scores, ready, self.market.close_s, cfg.signal_score_threshold, cfg.hysteresis_ratio,
                       float(cfg.cooldown_sec), new_state(), 0, n, signals, self._cooled)
        first_ready = int(np.argmax(ready)) if ready.any() else n
        if first_ready >= n:
            raise TrialError(f"{self.market.symbol}: the strategy never finished warming up on this data")
        self._check_warmup(t, first_ready)
        atr[:] = self._group_rows(t.groups["atr"])["atr"]
        return first_ready

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
            raise TrialError(f"{self.market.symbol}: {self.n} candles are fewer than the {need} this trial needs "
                             f"for warm-up, plus one")

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

