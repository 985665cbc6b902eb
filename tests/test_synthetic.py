"""Derived symbols with a chosen correlation (whale.market.synthetic): seeded, valid candles on a tick
grid that the candle-file reader accepts, and the correlations the recipe promises (w with the real
series, w_i * w_j between two derived symbols), measured on one-minute and 15-minute returns."""

import numpy as np
import pytest

from tests.paths import BUNDLED
from whale.candle_file import load_candle_file, write_candle_csv
from whale.market.instruments import instrument_for
from whale.market.resample import resample
from whale.market.synthetic import derive_symbols, log_returns, tick_for, weight_for


@pytest.fixture(scope="module")
def base():
    return load_candle_file(BUNDLED).candles


def test_same_seed_same_symbols_another_seed_others(base):
    a = derive_symbols(base.slice(0, 5000), [0.9, 0.3], seed=1, start_prices=[2500.0, 150.0])
    b = derive_symbols(base.slice(0, 5000), [0.9, 0.3], seed=1, start_prices=[2500.0, 150.0])
    c = derive_symbols(base.slice(0, 5000), [0.9, 0.3], seed=2, start_prices=[2500.0, 150.0])
    for x, y in zip(a, b, strict=True):
        assert all(np.array_equal(getattr(x, k), getattr(y, k)) for k in ("ts", "open", "high", "low", "close",
                                                                           "volume"))
    assert not np.array_equal(a[1].close, c[1].close)


def test_candles_are_valid_on_a_tick_and_read_back(base, tmp_path):
    syms = derive_symbols(base.slice(0, 3000), [1.0, 0.5, 0.0], seed=3, start_prices=[60_000.0, 2.5, 150.0])
    for s, p0 in zip(syms, (60_000.0, 2.5, 150.0), strict=True):
        assert np.array_equal(s.ts, base.ts[:3000])
        assert (s.high >= np.maximum(s.open, s.close)).all() and (s.low <= np.minimum(s.open, s.close)).all()
        assert (s.low > 0).all() and (s.volume > 0).all()
        tick = tick_for(p0)
        assert np.allclose(s.close / tick, np.round(s.close / tick), atol=1e-6)
        assert instrument_for("SYNUSDT", s.close).tick == pytest.approx(tick)
        assert np.array_equal(s.open[1:], s.close[:-1])  # each open continues the previous close
    path = tmp_path / "SYNUSDT_1m.csv"
    write_candle_csv(path, syms[1])
    back = load_candle_file(path)
    assert back.candles.interval == "1" and not back.gaps and np.allclose(back.candles.close, syms[1].close)


def test_the_weights_set_the_correlations(base):
    w = [1.0, 0.95, 0.8, 0.5, 0.0]
    syms = derive_symbols(base, w, seed=7, start_prices=[60_000.0, 2_500.0, 150.0, 2.5, 600.0])
    real = log_returns(base.close)
    R = np.array([log_returns(s.close) for s in syms])
    with_real = np.corrcoef(np.vstack([real, R]))[0, 1:]
    assert np.allclose(with_real, w, atol=0.05)
    pairwise = np.corrcoef(R)
    want = np.outer(w, w)
    np.fill_diagonal(want, 1.0)
    assert np.allclose(pairwise, want, atol=0.06)
    # 15-minute returns too (the default interval the correlation rule measures on).
    R15 = np.corrcoef(np.array([log_returns(resample(s, "15").close) for s in syms]))
    assert np.allclose(R15, want, atol=0.08)
    # The real series' volatility is kept.
    assert np.allclose(R.std(axis=1), real.std(), rtol=0.1)
    assert weight_for(0.81) == pytest.approx(0.9)
