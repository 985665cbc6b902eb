"""SCORER_INPUTS lists everything each scorer's first stage reads: with every other feature row
NaN and every other scoring parameter changed, a scorer's unit row is unchanged. The optimiser
caches unit rows under these inputs, so a missing one would hand a trial another trial's row."""

import numpy as np
import pytest

from tests.paths import DATA_DIR
from tests.test_parity import parity_config
from whale.candle_file import load_candle_file
from whale.config.model import replace_path
from whale.market.resample import resample
from whale.strategy import feature_ids as fi
from whale.strategy import scorers as sc
from whale.strategy.analyzer import Analyzer
from whale.strategy.scoring import N_PARAMS, SCORER_INPUTS, TREND_MULT_FEATURES, TREND_MULT_PARAMS, unit_range


@pytest.fixture(scope="module")
def analyzed():
    cfg = replace_path(parity_config(), "indicators.adx_trend_multiplier", True)
    cfg = replace_path(replace_path(cfg, "indicators.orderbook_imbalance", True), "strategy.mode", "combined")
    src = load_candle_file(DATA_DIR / "BTCUSDT-PERP_1m.csv.gz").candles.slice(0, 6000)
    a = Analyzer(cfg, "1", capacity=6000, live=True)
    for htf in a.mtf_intervals:
        a.add_htf_candles(htf, resample(src, htf))
    n = len(src)
    a.process(src, scores=np.full(n, np.nan), ready=np.zeros(n, bool), signals=np.zeros(n, np.int8),
              cooled=np.zeros(n, bool), book_imbalance=np.linspace(-1, 1, n), density=np.linspace(1, -1, n))
    return a, n


@pytest.mark.parametrize("s", range(sc.N_SCORERS), ids=sc.SCORER_NAMES)
def test_a_scorer_reads_only_its_listed_inputs(analyzed, s):
    a, n = analyzed
    assert a.enabled[s], "every scorer is on in this config"
    X = a.buffer.X
    enabled = np.zeros(sc.N_SCORERS, dtype=np.bool_)
    enabled[s] = True
    uidx = np.zeros(sc.N_SCORERS, dtype=np.int64)
    full = np.full((1, X.shape[1]), np.nan)
    unit_range(X, a.fidx, enabled, a.params, 0, n, full, uidx)
    features, params, trend = SCORER_INPUTS[s]
    keep = set(features) | (set(TREND_MULT_FEATURES) if trend else set())
    masked = X.copy()
    for f in range(fi.N_FEATURES):
        if f not in keep and a.fidx[f] >= 0:
            masked[a.fidx[f]] = np.nan
    P = a.params.copy()
    listed = set(params) | (set(TREND_MULT_PARAMS) if trend else set())
    for j in range(N_PARAMS):
        if j not in listed:
            P[j] = P[j] * 1.37 + 11.0
    alone = np.full((1, X.shape[1]), np.nan)
    unit_range(masked, a.fidx, enabled, P, 0, n, alone, uidx)
    assert np.array_equal(full[0, :n], alone[0, :n], equal_nan=True)
    assert np.isfinite(full[0, 200:n]).any()

