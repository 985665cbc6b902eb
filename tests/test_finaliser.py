"""The signal finaliser keeps its hysteresis and cooldown state across candles."""

import numpy as np

from whale.strategy.finaliser import BUY, HOLD, SELL, finalise_range, new_state


def run(scores, *, threshold=2.0, hysteresis=0.85, cooldown=0.0, times=None, ready=None, state=None):
    scores = np.asarray(scores, dtype=float)
    n = len(scores)
    times = np.arange(n, dtype=float) * 60.0 if times is None else np.asarray(times, dtype=float)
    ready = np.ones(n, dtype=bool) if ready is None else np.asarray(ready)
    state = new_state() if state is None else state
    signals = np.zeros(n, dtype=np.int8)
    cooled = np.zeros(n, dtype=bool)
    finalise_range(scores, ready, times, threshold, hysteresis, cooldown, state, 0, n, signals, cooled)
    return signals.tolist(), cooled.tolist(), state


def test_plain_threshold():
    sig, _, _ = run([0.5, 2.5, -2.5, 0.0], hysteresis=0.0)
    assert sig[1] == BUY and sig[2] == SELL


def test_hysteresis_follows_the_previous_score_sign():
    # docs/strategy.md#the-signal-finaliser: after a positive score the signal stays BUY while the score is above -T*h.
    sig, _, _ = run([2.5, 1.0, -1.0, -1.6])
    assert sig[:3] == [BUY, BUY, BUY]
    assert sig[3] == SELL  # the previous score (-1.0) was negative: sticky sell
    sig, _, _ = run([2.5, -1.8, -2.0])
    assert sig == [BUY, HOLD, SELL]  # -1.8 is past -T*h = -1.7 but not yet a strong sell


def test_cooldown_counts_candle_time_and_state_persists_across_calls():
    state = new_state()
    sig, cooled, state = run([2.5], cooldown=300.0, times=[1000.0], state=state)
    assert sig == [BUY]
    sig, cooled, state = run([-2.5], cooldown=300.0, times=[1060.0], state=state)
    assert sig == [HOLD] and cooled == [True]
    sig, cooled, state = run([-2.5], cooldown=300.0, times=[1400.0], state=state)
    assert sig == [SELL] and cooled == [False]


def test_warm_up_candles_hold_and_do_not_touch_state():
    sig, _, state = run([np.nan, 2.5], ready=[False, True])
    assert sig == [HOLD, BUY]
    assert state[0] == 2.5


def test_one_call_equals_candle_by_candle():
    rng = np.random.default_rng(7)
    scores = rng.normal(0, 2, 500)
    times = np.arange(500) * 900.0
    whole, _, _ = run(scores, cooldown=1800.0, times=times)
    state = new_state()
    step = [run([s], cooldown=1800.0, times=[t], state=state)[0][0] for s, t in zip(scores, times, strict=True)]
    assert whole == step
