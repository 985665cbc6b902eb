"""The safety monitor: the bot's trading state from equity, streams and connection failures.

States (NautilusTrader's vocabulary plus EMERGENCY), from the least to the most severe, each with
what it allows, what sets it, and when it goes back to ACTIVE:

- ACTIVE: entries and exits.
- REDUCING: exits (and reductions), no entries. Set by a drawdown from the peak equity >
  `max_drawdown_soft_percent`; back to ACTIVE once the drawdown is back to at most half the soft limit.
- HALTED: exits, no entries. Set by a stream silent for >= `stale_stream_sec` (or with no message yet:
  age None); `max_failures` (3) or more consecutive connection failures; the day's loss >=
  `daily_loss_limit_percent` of the UTC day's start equity; `max_stop_failures` (3) or more failures in
  a row to set a stop on the exchange. Back to ACTIVE at once when the stream is fresh again / the
  failures are reset; the daily-loss halt lasts until the next UTC day; the stop failures once a stop
  is set, or 15 minutes (market time) after the last failure.
- EMERGENCY: no entries; close everything, then stop. Set by equity < `min_balance_usdt`, or drawdown >
  `max_drawdown_hard_percent`. Never back: terminal.

When several causes hold, the most severe state wins and `reasons` lists every cause, the
winning state's first (in EMERGENCY the soft-drawdown reason is left out: the emergency's own
reason already names the drawdown or the balance). Edges: the daily loss halts AT the limit; the
drawdowns must be BEYOND their limits; equity exactly at the floor is allowed.

The peak is the highest equity seen since start (the start equity included). The UTC day's
start equity is the start equity on the first day, then the equity at the first check of each new
UTC day, unless the caller passes `day_start_equity`. Pure: time comes in as epoch ms; the
emergency close itself (cancel, reduce-only close with retries) is I/O and belongs to the caller,
which can follow `emergency_plan`.

What must survive a restart (the UTC day and its start equity, the peak, the daily-loss halt and
why, REDUCING, the stop failures) is `to_state()`; the loop keeps it in the journal and
`restore(state, now_ms, equity)` puts it back at start, so a crash and an automatic restart do not
re-enable trading after a daily-loss halt.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeGuard

from whale.config.model import Safety
from whale.risk.validator import fmt_amount, fmt_pct

ACTIVE = "ACTIVE"
REDUCING = "REDUCING"
HALTED = "HALTED"
EMERGENCY = "EMERGENCY"
STATES = (ACTIVE, REDUCING, HALTED, EMERGENCY)  # by severity
DAY_MS = 86_400_000
MAX_FAILURES = 3
MAX_STOP_FAILURES = 3
STOP_FAILURE_HALT_MS = 15 * 60_000  # a stop-failure halt lifts this long after the last failure
RECOVERY_FRACTION = 0.5  # REDUCING ends once the drawdown is back to this x the soft limit


def allows_entry(state: str) -> bool:
    return state == ACTIVE


def allows_exit(state: str) -> bool:
    """Exits (and reductions) are allowed in every state; in EMERGENCY closing is the point."""
    return state in STATES


@dataclass(frozen=True)
class SafetyStatus:
    state: str
    reasons: list[str] = field(default_factory=list)
    changed: bool = False
    previous: str = ACTIVE

    @property
    def message(self) -> str:
        return self.state if not self.reasons else f"{self.state}: " + "; ".join(self.reasons)


@dataclass(frozen=True)
class EmergencyPlan:
    """What the main thread does in EMERGENCY: cancel every open order, close every position
    with reduce-only market orders (each tried up to `max_attempts` times, waiting
    `retry_delays_ms` between tries), send the alert, stop the bot."""

    reasons: tuple[str, ...]
    max_attempts: int = 3
    retry_delays_ms: tuple[int, ...] = (500, 1000, 2000)

    @property
    def alert(self) -> str:
        return "EMERGENCY: closing every position and stopping: " + "; ".join(self.reasons)

    @property
    def steps(self) -> tuple[str, ...]:
        return ("cancel all open orders", "reduce-only market close of every position",
                "send the emergency alert", "stop the bot")


def emergency_plan(status: SafetyStatus) -> EmergencyPlan | None:
    return EmergencyPlan(tuple(status.reasons)) if status.state == EMERGENCY else None


def _valid(x: float | None) -> TypeGuard[float]:
    return x is not None and math.isfinite(x)


def _text(x: float) -> str:
    """An equity as the exact text of its float (the monitor counts in floats)."""
    return str(Decimal(repr(float(x))))


class SafetyMonitor:
    def __init__(self, settings: Safety, start_equity: float, *, max_failures: int = MAX_FAILURES,
                 max_stop_failures: int = MAX_STOP_FAILURES) -> None:
        self.settings = settings
        self.max_failures = max_failures
        self.max_stop_failures = max_stop_failures
        self.stop_failures = 0  # failures in a row to set a stop on the exchange
        self.stop_failure = ""  # the last one's message
        self.stop_failure_ms: int | None = None
        self.start_equity = float(start_equity)
        self.peak_equity = float(start_equity)
        self.day_start_equity = float(start_equity)
        self._day: int | None = None
        self.state = ACTIVE
        self._reducing = False
        self._daily_halt = False
        self._reduce_reason = ""
        self._daily_reason = ""
        self._emergency: list[str] = []
        self.last_check_ms: int | None = None

    def due(self, now_ms: int) -> bool:
        """True when `check_interval_sec` has passed since the last check (or none was made)."""
        last = self.last_check_ms
        return last is None or now_ms - last >= self.settings.check_interval_sec * 1000.0

    def check(self, now_ms: int, equity: float | None, *, stream_ages: dict[str, float | None] | None = None,
              failures: int = 0, day_start_equity: float | None = None) -> SafetyStatus:
        """The state now. `stream_ages`: seconds since each stream's last message (None: none yet);
        `failures`: consecutive connection failures; equity None/NaN: unknown (latched states hold)."""
        self.last_check_ms = now_ms
        previous = self.state
        if previous == EMERGENCY:
            return SafetyStatus(EMERGENCY, list(self._emergency), False, previous)
        self._roll_day(now_ms, equity, day_start_equity)
        emergency: list[str] = []
        halted: list[str] = []
        if _valid(equity):
            self._equity_rules(float(equity), emergency)
        if self._daily_halt:
            halted.append(self._daily_reason)
        s = self.settings
        for name, age in (stream_ages or {}).items():
            if age is None:
                halted.append(f"no message yet on stream {name}")
            elif age >= s.stale_stream_sec:
                halted.append(f"stream {name} silent for {age:,.0f} s (limit {s.stale_stream_sec:g} s)")
        if failures >= self.max_failures:
            halted.append(f"{failures} consecutive connection failures (limit {self.max_failures})")
        if self.stop_failures >= self.max_stop_failures and self.stop_failure_ms is not None \
                and now_ms - self.stop_failure_ms < STOP_FAILURE_HALT_MS:
            halted.append(f"setting a stop on the exchange failed {self.stop_failures} times in a row (last: "
                          f"{self.stop_failure}); entries resume once a stop is set, or 15 minutes after the last "
                          "failure")
        reducing = [self._reduce_reason] if self._reducing else []
        if emergency:
            state = EMERGENCY
            self._emergency = emergency + halted  # a drawdown emergency already says the drawdown
            reasons = list(self._emergency)
        elif halted:
            state, reasons = HALTED, halted + reducing
        elif reducing:
            state, reasons = REDUCING, reducing
        else:
            state, reasons = ACTIVE, []
        self.state = state
        return SafetyStatus(state, reasons, state != previous, previous)

    def note_stop_result(self, ok: bool, detail: str, now_ms: int) -> None:
        """An attempt to set a stop on the exchange: a success resets the count of failures in a row."""
        if ok:
            self.stop_failures, self.stop_failure, self.stop_failure_ms = 0, "", None
        else:
            self.stop_failures += 1
            self.stop_failure, self.stop_failure_ms = detail, int(now_ms)

    # ---- persistence -----------------------------------------------------------------------------
    def to_state(self) -> dict:
        """What a restart must not lose, JSON-able (amounts as exact strings)."""
        return {"day": self._day, "day_start_equity": _text(self.day_start_equity),
                "peak_equity": _text(self.peak_equity), "daily_halt": self._daily_halt,
                "daily_reason": self._daily_reason, "reducing": self._reducing, "reduce_reason": self._reduce_reason,
                "stop_failures": self.stop_failures, "stop_failure": self.stop_failure,
                "stop_failure_ms": self.stop_failure_ms}

    def restore(self, state: dict, now_ms: int, equity: float | None = None) -> str | None:
        """Put back a saved state at start (`now_ms` on the same clock as check()). The peak is kept
        (the higher of the saved one and the equity now); on the same UTC day, the day's start equity
        and a daily-loss halt too. Returns what was restored for the log, None when nothing was (an
        empty or unreadable state: the bot then starts from the equity now, as before)."""
        try:
            day = None if state.get("day") is None else int(state["day"])
            peak = float(state["peak_equity"])
            day_start = float(state["day_start_equity"])
            failures = int(state.get("stop_failures") or 0)
            failure_ms = None if state.get("stop_failure_ms") is None else int(state["stop_failure_ms"])
        except (KeyError, TypeError, ValueError):
            return None
        if not (math.isfinite(peak) and math.isfinite(day_start)):
            return None
        today = now_ms // DAY_MS
        now_equity = float(equity) if equity is not None and math.isfinite(equity) else self.peak_equity
        self.peak_equity = max(peak, self.peak_equity, now_equity)
        self._reducing = bool(state.get("reducing"))
        self._reduce_reason = str(state.get("reduce_reason") or "")
        self.stop_failures, self.stop_failure, self.stop_failure_ms = failures, str(state.get("stop_failure") or ""), \
            failure_ms
        same_day = day == today
        self._day = today
        if same_day:
            self.day_start_equity = day_start
            self._daily_halt = bool(state.get("daily_halt"))
            self._daily_reason = str(state.get("daily_reason") or "")
        halts = []
        if self._daily_halt:
            halts.append(f"{self._daily_reason} (until 00:00 UTC)")
        if self.stop_failures >= self.max_stop_failures and failure_ms is not None \
                and now_ms - failure_ms < STOP_FAILURE_HALT_MS:
            halts.append(f"{self.stop_failures} failures in a row to set a stop (last: {self.stop_failure})")
        reasons = halts + ([self._reduce_reason] if self._reducing else [])
        self.state = HALTED if halts else (REDUCING if self._reducing else ACTIVE)
        what = f"{self.state}: " + "; ".join(reasons) if reasons else self.state
        when = "the same UTC day" if same_day else "a new UTC day (the day's start equity is the equity now)"
        return (f"Restored safety state: {what}; peak equity {fmt_amount(self.peak_equity)} USDT, the UTC day's start "
                f"equity {fmt_amount(self.day_start_equity)} USDT ({when}, "
                f"{datetime.datetime.fromtimestamp(now_ms / 1000, datetime.UTC):%Y-%m-%d})")

    def _roll_day(self, now_ms: int, equity: float | None, given: float | None) -> None:
        day = now_ms // DAY_MS
        if self._day is None:
            self._day = day
        elif day > self._day:
            self._day = day
            self._daily_halt = False
            if _valid(equity):
                self.day_start_equity = float(equity)
        if _valid(given):
            self.day_start_equity = float(given)

    def _equity_rules(self, equity: float, emergency: list[str]) -> None:
        s = self.settings
        if equity > self.peak_equity:
            self.peak_equity = equity
        peak = self.peak_equity
        if equity < s.min_balance_usdt:
            emergency.append(f"equity {fmt_amount(equity)} USDT is below the balance floor "
                             f"{fmt_amount(s.min_balance_usdt)} USDT")
        dd = (peak - equity) / peak * 100.0 if peak > 0 else 0.0
        drawdown = f"drawdown {dd:.1f} % from the peak equity {fmt_amount(peak)} USDT (now {fmt_amount(equity)} USDT)"
        if dd > s.max_drawdown_hard_percent:
            emergency.append(f"{drawdown} beyond the hard limit {fmt_pct(s.max_drawdown_hard_percent)} %")
        if dd > s.max_drawdown_soft_percent:
            self._reducing = True
            self._reduce_reason = f"{drawdown} beyond the soft limit {fmt_pct(s.max_drawdown_soft_percent)} %"
        elif self._reducing:
            back = s.max_drawdown_soft_percent * RECOVERY_FRACTION
            if dd <= back:
                self._reducing = False
            else:
                self._reduce_reason = f"{drawdown} not yet back to {fmt_pct(back)} % (half the soft limit)"
        start = self.day_start_equity
        loss = (start - equity) / start * 100.0 if start > 0 else 0.0
        if not self._daily_halt and loss >= s.daily_loss_limit_percent:
            self._daily_halt = True
            self._daily_reason = (
                f"daily loss {loss:.1f} % ({fmt_amount(start - equity)} USDT) from the UTC day's start equity "
                f"{fmt_amount(start)} USDT reached the limit {fmt_pct(s.daily_loss_limit_percent)} %; entries "
                f"resume at the next UTC day")
