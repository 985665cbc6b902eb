"""The PerformanceTracker: the account's trades (every symbol's), kept in the journal file and persisted
at every change."""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from whale.journal.document import JournalData, encode
from whale.journal.file import JournalError, JournalFile, SystemClock
from whale.journal.records import MODES, NETWORKS, TradeRecord, to_decimal
from whale.journal.summary import format_summary_lines, summarize
from whale.strategy.stops import EXIT_REASONS
from whale.timefmt import iso_utc

# What update_trade may not change: identity (id, market, mode) and the status, which only
# open_trade / close_trade set.
_FIXED_FIELDS = frozenset(("id", "symbol", "network", "mode", "status"))


class PerformanceTracker:
    """The account's trades, persisted to the journal at every change, and their statistics.

    `network` and `mode` say which account this is, `symbols` which symbols its bot trades (`symbol`:
    one). `open_trades()` / `closed_trades()` / `summary()` cover the account's trades, every
    symbol's (each PositionManager picks its own symbol's); trades of another network or mode found
    in the file are kept (and reported in `warnings`) but left alone, and open trades of a symbol the
    bot no longer trades are reported. One writer: the main thread (the methods are also safe to
    call from another thread). Raises JournalError when another bot holds the journal. Use as a
    context manager, or call `close()`.
    """

    def __init__(self, journal_path: str | os.PathLike, *, network: str, mode: str,
                 symbols: Sequence[str] | None = None, symbol: str | None = None, clock: Any = None,
                 start_balance: Decimal | float | int | None = None, durable: bool = True,
                 save_each_change: bool = True) -> None:
        """`durable`: every save fsynced (JournalFile); a backtest's journal does without. `save_each_change`:
        the live bot's journal is on disk after every change, so a kill loses nothing; a backtest's, a report
        a rerun rebuilds, is written once, at `close` (its hundreds of rewrites were ~7 % of a replay)."""
        if network not in NETWORKS:
            raise ValueError(f"network {network!r} is not one of {', '.join(NETWORKS)}")
        if mode not in MODES:
            raise ValueError(f"mode {mode!r} is not one of {', '.join(MODES)}")
        self.symbols: tuple[str, ...] = tuple(symbols) if symbols else ((symbol,) if symbol else ())
        if not self.symbols:
            raise ValueError("the tracker needs the symbols its bot trades")
        self.network, self.mode = network, mode
        self.start_balance = None if start_balance is None else to_decimal(start_balance, "start_balance")
        self.clock = clock or SystemClock()
        self.file = JournalFile(journal_path, clock=self.clock, durable=durable)
        self.save_each_change = save_each_change
        self._unsaved = False
        self.path = self.file.path
        self._lock = threading.RLock()
        self._trades: dict[str, TradeRecord] = {}
        self._paper_state: dict = {}
        self._safety: dict = {}
        self.file.acquire()
        try:
            self.file.remove_stale_temps()
            result = self.file.load()
        except BaseException:
            self.file.release()
            raise
        self.corrupt_path = result.corrupt_path
        self.backup_path = result.backup_path
        self.warnings: list[str] = list(result.warnings)
        self.notices: list[str] = list(result.notices)  # for the log at INFO: a migration
        if result.corrupt_path is not None and mode == "paper":
            self.warnings.append("The paper wallet and its positions restart from trade_management.account_balance "
                                 f"(the old paper state is in {result.corrupt_path}).")
        if result.data is not None:
            self._trades = {t.id: t for t in result.data.trades}
            self._paper_state = result.data.paper_state
            self._safety = result.data.safety
            self.warnings.extend(self._mismatch_warnings(result.data))

    # ---- loading ---------------------------------------------------------------------------------
    @property
    def symbol(self) -> str:
        """The first symbol (titles and messages of a one-symbol bot)."""
        return self.symbols[0]

    def _mine(self, t: TradeRecord) -> bool:
        return t.network == self.network and t.mode == self.mode

    def _mismatch_warnings(self, data: JournalData) -> list[str]:
        out = []
        me = f"{self.network}/{self.mode}"
        header = f"{data.network}/{data.mode}"
        if data.network and data.network != self.network:
            out.append(f"{self.path} was last written by a bot on {data.network}, this one trades on "
                       f"{self.network}: that is suspicious — a journal per network (own --workdir) is safer.")
        elif data.mode and data.mode != self.mode:
            out.append(f"{self.path} was last written by a {header} bot; this one is {me}.")
        foreign = [t for t in self._trades.values() if not self._mine(t)]
        if foreign:
            groups = sorted({f"{t.network}/{t.mode}/{t.symbol}" for t in foreign})
            still_open = sum(t.is_open for t in foreign)
            out.append(f"{len(foreign)} trade(s) in {self.path} ({still_open} open) belong to {', '.join(groups)}: "
                       f"kept in the file, but this {me} bot neither manages nor counts them.")
        orphans = sorted({t.symbol for t in self._trades.values()
                          if self._mine(t) and (t.is_open or t.is_pending) and t.symbol not in self.symbols})
        if orphans:
            out.append(f"{self.path} holds open trades of {', '.join(orphans)}, which `symbols` no longer lists: "
                       f"this bot does not manage them (add the symbol back, or close them with python whalebot.py "
                       f"close-all --symbol {orphans[0]}).")
        return out

    # ---- reading ---------------------------------------------------------------------------------
    def get(self, trade_id: str) -> TradeRecord | None:
        with self._lock:
            return self._trades.get(trade_id)

    def open_trades(self) -> list[TradeRecord]:
        """This bot's open trades, oldest first."""
        with self._lock:
            return [t for t in self._trades.values() if t.is_open and self._mine(t)]

    def pending_trades(self) -> list[TradeRecord]:
        """This bot's entries journaled before sending whose fill is not confirmed yet, oldest first."""
        with self._lock:
            return [t for t in self._trades.values() if t.is_pending and self._mine(t)]

    def closed_trades(self) -> list[TradeRecord]:
        """This bot's closed trades, in the order they closed."""
        with self._lock:
            closed = [t for t in self._trades.values() if t.status == "closed" and self._mine(t)]
        return sorted(closed, key=lambda t: t.exit_time or "")

    def all_trades(self) -> list[TradeRecord]:
        """Every trade in the file, this bot's or not, in file order."""
        with self._lock:
            return list(self._trades.values())

    def paper_state(self) -> dict:
        """The paper broker's saved state, as JSON decodes it (Decimals come back as strings)."""
        with self._lock:
            return json.loads(encode(self._paper_state))

    def safety_state(self) -> dict:
        """The safety monitor's saved state when this bot's network and mode wrote it, else {}."""
        with self._lock:
            state = json.loads(encode(self._safety))
        if state.get("network") != self.network or state.get("mode") != self.mode:
            return {}
        return state

    # ---- mutations (each persists at once) -------------------------------------------------------
    def open_trade(self, record: TradeRecord) -> TradeRecord:
        """Record a new open trade (a fill of this bot, or an adopted exchange position)."""
        if not isinstance(record, TradeRecord):
            raise TypeError("open_trade takes a TradeRecord")
        if not record.is_open:
            raise ValueError(f"trade {record.id}: open_trade needs status 'open', not {record.status!r}")
        return self._add(record)

    def _add(self, record: TradeRecord) -> TradeRecord:
        if not self._mine(record):
            raise ValueError(f"trade {record.id} is for {record.network}/{record.mode}, "
                             f"this journal's bot is {self.network}/{self.mode}")
        with self._lock:
            self._check_open()
            if record.id in self._trades:
                raise ValueError(f"trade id {record.id!r} is already in the journal")
            self._trades[record.id] = record
            self._persist()
        return record

    def add_pending(self, record: TradeRecord) -> TradeRecord:
        """Journal an entry before its order is sent (status `pending`): a crash between sending and
        reading the fill leaves its orderLinkId here, so the next start can look the order up."""
        if not isinstance(record, TradeRecord):
            raise TypeError("add_pending takes a TradeRecord")
        if not record.is_pending:
            raise ValueError(f"trade {record.id}: add_pending needs status 'pending', not {record.status!r}")
        if not record.entry_order_link_id:
            raise ValueError(f"trade {record.id}: a pending entry needs its entry_order_link_id")
        return self._add(record)

    def confirm_entry(self, trade_id: str, *, entry_price: Any, entry_time: Any, qty: Any, fees: Any,
                      note: str = "", **changes: Any) -> TradeRecord:
        """The pending entry's order filled: it becomes an open trade with the real fill price, time,
        quantity and fee (and any other `changes`, e.g. the stops set from the fill)."""
        with self._lock:
            self._check_open()
            record = self._require(trade_id)
            if not record.is_pending:
                raise ValueError(f"trade {trade_id} is not pending (status {record.status!r})")
            opened = dataclasses.replace(record, status="open", entry_price=to_decimal(entry_price, "entry_price"),
                                         entry_time=entry_time, qty=to_decimal(qty, "qty"),
                                         fees=to_decimal(fees, "fees"), notes=record.notes + ((note,) if note else ()),
                                         **changes)
            self._trades[trade_id] = opened
            self._persist()
        return opened

    def drop_pending(self, trade_id: str) -> TradeRecord:
        """Remove a pending entry whose order never executed (refused, or never reached the exchange)."""
        with self._lock:
            self._check_open()
            record = self._require(trade_id)
            if not record.is_pending:
                raise ValueError(f"trade {trade_id} is not pending (status {record.status!r}); only a pending entry "
                                 "can be dropped")
            del self._trades[trade_id]
            self._persist()
        return record

    def update_trade(self, trade_id: str, **changes: Any) -> TradeRecord:
        """Change fields of a trade (stop moved, break-even done, real fill price, fees so far, ...).
        `id`, `symbol`, `network`, `mode` and `status` cannot change here."""
        fixed = sorted(_FIXED_FIELDS & set(changes))
        if fixed:
            raise ValueError(f"update_trade cannot change {', '.join(fixed)} (close with close_trade)")
        with self._lock:
            self._check_open()
            record = dataclasses.replace(self._require(trade_id), **changes)
            self._trades[trade_id] = record
            self._persist()
        return record

    def add_note(self, trade_id: str, note: str) -> TradeRecord:
        with self._lock:
            return self.update_trade(trade_id, notes=self._require(trade_id).notes + (str(note),))

    def close_trade(self, trade_id: str, exit_price: Any, exit_time: Any, fees: Any, funding: Any, pnl: Any,
                    reason: str, exit_order_link_ids: Iterable[str] = (), note: str = "") -> TradeRecord:
        """Close an open trade with its real exit. `fees` and `funding` are the trade's totals
        (entry and exit; None keeps the recorded value); `pnl` is net of both, None computes it as
        (exit - entry) x qty x direction - fees - funding. `exit_order_link_ids` are added to those
        already recorded. `note` (why, with the numbers) is added to the trade's notes in the same
        write."""
        if reason not in EXIT_REASONS:
            raise ValueError(f"reason {reason!r} is not one of {', '.join(EXIT_REASONS)}")
        with self._lock:
            self._check_open()
            record = self._require(trade_id)
            if record.is_pending:
                raise ValueError(f"trade {trade_id} is pending: confirm_entry records its fill before it can close")
            if not record.is_open:
                raise ValueError(f"trade {trade_id} is already closed ({record.reason} at {record.exit_time})")
            exit_price = to_decimal(exit_price, "exit_price")
            fees = record.fees if fees is None else to_decimal(fees, "fees")
            funding = record.funding if funding is None else to_decimal(funding, "funding")
            if pnl is None:
                pnl = (exit_price - record.entry_price) * record.qty * record.direction - fees - funding
            if isinstance(exit_order_link_ids, str):
                exit_order_link_ids = (exit_order_link_ids,)
            links = record.exit_order_link_ids + tuple(x for x in exit_order_link_ids
                                                       if x not in record.exit_order_link_ids)
            closed = dataclasses.replace(record, status="closed", exit_price=exit_price, exit_time=exit_time,
                                         fees=fees, funding=funding, pnl=pnl, reason=reason,
                                         exit_order_link_ids=links, notes=record.notes + ((note,) if note else ()))
            self._trades[trade_id] = closed
            self._persist()
        return closed

    def set_paper_state(self, state: Mapping) -> None:
        """Save the paper broker's state (JSON-able; Decimals are stored as strings). Paper mode only."""
        if self.mode != "paper":
            raise ValueError(f"paper_state belongs in the paper journal; this tracker's mode is {self.mode!r}")
        if not isinstance(state, Mapping):
            raise TypeError("set_paper_state takes a dict")
        try:
            copy = json.loads(encode(dict(state)))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"paper state cannot be stored as JSON: {exc}") from None
        with self._lock:
            self._check_open()
            self._paper_state = copy
            self._persist()

    def set_safety_state(self, state: Mapping) -> None:
        """Save the safety monitor's state (JSON-able), stamped with this bot's network and mode."""
        try:
            copy = json.loads(encode(dict(state, network=self.network, mode=self.mode)))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"safety state cannot be stored as JSON: {exc}") from exc
        with self._lock:
            self._check_open()
            if copy == self._safety:
                return
            self._safety = copy
            self._persist()

    def _require(self, trade_id: str) -> TradeRecord:
        try:
            return self._trades[trade_id]
        except KeyError:
            raise KeyError(f"no trade {trade_id!r} in the journal") from None

    def _check_open(self) -> None:
        if not self.file.locked:
            raise JournalError(f"the journal {self.path} is closed")

    def _persist(self) -> None:
        if not self.save_each_change:
            self._unsaved = True
            return
        self._save()

    def _save(self) -> None:
        self._unsaved = False
        data = JournalData(list(self.symbols), self.network, self.mode, iso_utc(int(self.clock.now_ms())),
                           list(self._trades.values()), self._paper_state, self._safety)
        self.file.save(data)

    # ---- statistics ------------------------------------------------------------------------------
    def summary(self, start_balance: Decimal | float | int | None = None, symbol: str | None = None) -> dict:
        """Statistics of the account's closed trades (of `symbol`'s only, when given), with the
        backtest's formulas (whale.backtest.metrics).

        max_drawdown is a fraction of the peak of the closed-trade equity curve that starts at
        `start_balance` (default: the tracker's); without a start balance it is None and only
        max_drawdown_usdt (over cumulative PnL) is given. A zero PnL is neither win nor loss.
        """
        start = self.start_balance if start_balance is None else to_decimal(start_balance, "start_balance")
        closed = [t for t in self.closed_trades() if symbol is None or t.symbol == symbol]
        still_open = [t for t in self.open_trades() if symbol is None or t.symbol == symbol]
        return summarize(closed, open_count=len(still_open), start_balance=start)

    def traded_symbols(self) -> list[str]:
        """The symbols with a trade in the journal (this account's), the bot's own first."""
        seen = {t.symbol for t in self._trades.values() if self._mine(t) and not t.is_pending}
        return [s for s in self.symbols if s in seen] + sorted(seen - set(self.symbols))

    def summary_lines(self, colour: bool = True, start_balance: Decimal | float | int | None = None,
                      money_places: int = 2) -> list[str]:
        """The account's summary; with trades of several symbols, then one summary per symbol (their
        drawdowns on the closed-trade PnL of that symbol alone)."""
        symbols = self.traded_symbols()
        names = ", ".join(self.symbols) if len(self.symbols) <= 4 else f"{len(self.symbols)} symbols"
        title = f"Performance Summary ({names}, {self.network}, {self.mode})"
        lines = format_summary_lines(self.summary(start_balance), colour=colour, title=title,
                                     money_places=money_places)
        if len(symbols) > 1:
            for s in symbols:
                lines += format_summary_lines(self.summary(start_balance, symbol=s), colour=colour,
                                              title=f"{s}: its trades", money_places=money_places)
        return lines

    # ---- life ------------------------------------------------------------------------------------
    def close(self) -> None:
        """Write what is not on disk yet (`save_each_change=False`), then release the lock (idempotent)."""
        try:
            with self._lock:
                if self._unsaved and self.file.locked:
                    self._save()
        finally:
            self.file.release()

    def __enter__(self) -> PerformanceTracker:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
