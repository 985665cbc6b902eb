"""The safety monitor: every trigger at its edge, the recovery rules and the terminal state."""

import math

from whale.config.model import Safety
from whale.risk.safety import (
    ACTIVE,
    DAY_MS,
    EMERGENCY,
    HALTED,
    REDUCING,
    SafetyMonitor,
    allows_entry,
    allows_exit,
    emergency_plan,
)

DAY = 19_700 * DAY_MS  # a UTC midnight
FRESH = {"kline.1.BTCUSDT": 1.0, "orderbook.200.BTCUSDT": 0.2}


def monitor(start=1000.0, **kw):
    return SafetyMonitor(Safety(**kw), start)


def test_active_with_fresh_streams_and_no_loss():
    m = monitor()
    s = m.check(DAY + 1000, 1000.0, stream_ages=FRESH)
    assert (s.state, s.reasons, s.changed) == (ACTIVE, [], False)
    assert allows_entry(s.state) and allows_exit(s.state) and s.message == "ACTIVE"


def test_stale_stream_halts_at_the_limit_and_recovers_when_fresh():
    m = monitor()
    assert m.check(DAY, 1000.0, stream_ages={"orderbook": 29.9}).state == ACTIVE
    s = m.check(DAY + 1, 1000.0, stream_ages={"orderbook": 30.0})
    assert (s.state, s.changed, s.previous) == (HALTED, True, ACTIVE)
    assert s.reasons == ["stream orderbook silent for 30 s (limit 30 s)"]
    assert not allows_entry(s.state) and allows_exit(s.state)
    s = m.check(DAY + 2, 1000.0, stream_ages={"orderbook": 0.5})
    assert (s.state, s.changed) == (ACTIVE, True)


def test_a_stream_with_no_message_yet_halts():
    s = monitor().check(DAY, 1000.0, stream_ages={"publicTrade": None})
    assert s.state == HALTED and s.reasons == ["no message yet on stream publicTrade"]


def test_connection_failures_halt_from_three():
    m = monitor()
    assert m.check(DAY, 1000.0, failures=2).state == ACTIVE
    s = m.check(DAY + 1, 1000.0, failures=3)
    assert s.state == HALTED and s.reasons == ["3 consecutive connection failures (limit 3)"]
    assert m.check(DAY + 2, 1000.0, failures=0).state == ACTIVE


def test_daily_loss_halts_at_the_limit_until_the_next_utc_day():
    m = monitor()
    assert m.check(DAY + 1, 950.01).state == ACTIVE  # 4.999 %
    s = m.check(DAY + 2, 950.0)  # exactly 5 %
    assert s.state == HALTED and s.reasons[0].startswith(
        "daily loss 5.0 % (50.00 USDT) from the UTC day's start equity 1,000 USDT reached the limit 5 %")
    assert m.check(DAY + 3, 1000.0).state == HALTED  # latched for the day, even when recovered
    s = m.check(DAY + DAY_MS, 990.0)  # the next UTC day: its start equity is 990
    assert s.state == ACTIVE and m.day_start_equity == 990.0
    assert m.check(DAY + DAY_MS + 1, 940.5).state == HALTED  # 5 % of 990


def test_daily_loss_from_a_given_day_start_equity():
    m = monitor()
    assert m.check(DAY, 960.0, day_start_equity=1000.0).state == ACTIVE
    assert m.check(DAY + 1, 960.0, day_start_equity=1010.6).state == HALTED  # 5.007 %


def test_soft_drawdown_reduces_beyond_the_limit_and_recovers_at_half_of_it():
    m = monitor(daily_loss_limit_percent=50)
    m.check(DAY, 1200.0)  # new peak
    assert m.check(DAY + 1, 1080.0).state == ACTIVE  # exactly 10 %: not beyond
    s = m.check(DAY + 2, 1079.0)
    assert s.state == REDUCING and s.changed
    assert s.reasons == ["drawdown 10.1 % from the peak equity 1,200 USDT (now 1,079 USDT) beyond the soft limit 10 %"]
    assert not allows_entry(s.state) and allows_exit(s.state)
    s = m.check(DAY + 3, 1100.0)  # 8.3 %: still above half the soft limit
    assert s.state == REDUCING and "not yet back to 5 % (half the soft limit)" in s.reasons[0]
    assert m.check(DAY + 4, 1140.0).state == ACTIVE  # exactly 5 %: recovered


def test_hard_drawdown_and_the_balance_floor_are_emergencies_and_terminal():
    m = monitor(daily_loss_limit_percent=50)
    assert m.check(DAY, 800.0).state == REDUCING  # exactly 20 %: soft yes, hard not beyond
    s = m.check(DAY + 1, 799.0)
    assert s.state == EMERGENCY and s.changed and "beyond the hard limit 20 %" in s.reasons[0]
    plan = emergency_plan(s)
    assert plan.max_attempts == 3 and plan.steps[0] == "cancel all open orders" and "EMERGENCY" in plan.alert
    s = m.check(DAY + 2, 1000.0, stream_ages=FRESH)
    assert (s.state, s.changed) == (EMERGENCY, False)  # terminal
    assert not allows_entry(EMERGENCY) and allows_exit(EMERGENCY)
    floor = monitor(start=120.0, max_drawdown_hard_percent=90, max_drawdown_soft_percent=90,
                    daily_loss_limit_percent=90)
    assert floor.check(DAY, 100.0).state == ACTIVE  # at the floor is allowed
    s = floor.check(DAY + 1, 99.99)
    assert s.state == EMERGENCY and s.reasons == ["equity 99.99 USDT is below the balance floor 100 USDT"]
    assert emergency_plan(floor.check(DAY + 2, 500.0)) is not None


def test_the_most_severe_state_wins_and_every_reason_is_listed():
    m = monitor(daily_loss_limit_percent=50)
    s = m.check(DAY, 850.0, stream_ages={"ticker": 45.0})
    assert s.state == HALTED
    assert s.reasons[0].startswith("stream ticker silent for 45 s") and s.reasons[1].startswith("drawdown 15.0 %")
    s = m.check(DAY + 1, 850.0, stream_ages={"ticker": 1.0})
    assert s.state == REDUCING and len(s.reasons) == 1


def test_unknown_equity_keeps_the_latched_states():
    m = monitor(daily_loss_limit_percent=50)
    assert m.check(DAY, 850.0).state == REDUCING
    assert m.check(DAY + 1, None).state == REDUCING
    assert m.check(DAY + 2, math.nan).state == REDUCING
    assert monitor().check(DAY, None).state == ACTIVE


def test_due_follows_the_check_interval():
    m = monitor()
    assert m.due(DAY)
    m.check(DAY, 1000.0)
    assert not m.due(DAY + 29_999)
    assert m.due(DAY + 30_000)


def test_repeated_stop_failures_halt_until_a_stop_is_set():
    m = monitor()
    for n in range(2):
        m.note_stop_result(False, "rate limit (retCode 10006)", DAY + n)
    assert m.check(DAY + 10, 1000.0).state == ACTIVE
    m.note_stop_result(False, "rate limit (retCode 10006)", DAY + 20)
    s = m.check(DAY + 30, 1000.0)
    assert s.state == HALTED and "setting a stop on the exchange failed 3 times in a row" in s.reasons[0]
    assert "10006" in s.reasons[0]
    m.note_stop_result(True, "stop set", DAY + 40)
    assert m.check(DAY + 50, 1000.0).state == ACTIVE
    for n in range(3):
        m.note_stop_result(False, "refused", DAY + 60 + n)
    assert m.check(DAY + 70, 1000.0).state == HALTED
    assert m.check(DAY + 62 + 15 * 60_000, 1000.0).state == ACTIVE  # a quarter of an hour later


def test_the_state_survives_a_restart_on_the_same_utc_day():
    m = monitor()
    m.check(DAY + 1000, 1100.0)  # a new peak
    s = m.check(DAY + 2000, 1040.0)  # 5.45 % below the day's start (1100 is not the day's start: 1000 is)
    assert s.state == ACTIVE
    s = m.check(DAY + 3000, 940.0)
    assert s.state == HALTED and "daily loss" in s.reasons[0]
    saved = m.to_state()
    assert saved["peak_equity"] == "1100.0" and saved["daily_halt"] is True and saved["day_start_equity"] == "1000.0"
    # A restart an hour later: the start equity is 940 now, the halt and the peak come back.
    again = monitor(start=940.0)
    line = again.restore(saved, DAY + 3_600_000, 940.0)
    assert again.state == HALTED and line.startswith("Restored safety state: HALTED: daily loss 6.0 %")
    assert "until 00:00 UTC" in line and "peak equity 1,100" in line
    s = again.check(DAY + 3_700_000, 945.0)
    assert s.state == HALTED and "daily loss" in s.reasons[0]
    assert again.peak_equity == 1100.0 and again.day_start_equity == 1000.0
    # The next UTC day: the daily halt is over; the peak stays, so the 14.5 % drawdown from it still
    # means REDUCING (exits only), as it did before the restart.
    nxt = monitor(start=940.0)
    line = nxt.restore(saved, DAY + DAY_MS + 1000, 940.0)
    assert nxt.state == REDUCING and "new UTC day" in line and "daily loss" not in line
    s = nxt.check(DAY + DAY_MS + 2000, 940.0)
    assert s.state == REDUCING and nxt.peak_equity == 1100.0 and nxt.day_start_equity == 940.0
    assert monitor().restore({}, DAY, 1000.0) is None and monitor().restore({"peak_equity": "x"}, DAY) is None
