"""The trade journal: `trade_history.json` (live) / `trade_history.paper.json` (paper), and the
PerformanceTracker that owns it.

The exchange is the truth about positions; the journal is the audit log (docs/architecture.md,
principle 3): every trade, open and closed, with the metadata a restart needs to restore its
management (initial stop, break-even flag, density price, ...).

    tracker = PerformanceTracker(workdir / journal_filename(cfg.dry_run), network="testnet",
                                 mode="paper", symbols=["BTCUSDT"], start_balance=1000)
    for warning in tracker.warnings:          # corrupt file moved aside, other network, ...
        log.warning(warning)
    tracker.open_trade(TradeRecord(id=link_id, symbol=..., side="Buy", qty=Decimal("0.01"), ...))
    tracker.update_trade(link_id, stop_loss=Decimal("64950.5"), stop_kind=STOP_BREAKEVEN)
    tracker.close_trade(link_id, exit_price, exit_time, fees, funding, None, "take_profit", [exit_link_id])
    tracker.close()                           # releases the lock

- Every mutation rewrites the file atomically (temporary file in the same directory, write,
  flush, fsync, `os.replace`, fsync of the directory): after a crash the file holds either the
  old or the new content, never a mix.
- The tracker holds an exclusive, non-blocking lock (`flock`) on `<journal>.lock` for its
  lifetime, so two bots never share a journal. The OS drops the lock when the process dies, so
  `kill -9` leaves no stale lock.
- A corrupt file (bad JSON, wrong shape, undecodable amount) is moved aside to
  `<journal>.corrupt-<UTC stamp>` and reported in `tracker.warnings`; the tracker starts empty and
  reconciliation rebuilds the view of open positions from the exchange. It is never overwritten.
- A file of an older format is migrated on load, one step per version (`migrations.MIGRATIONS`); the original
  is kept as `<journal>.v<N>.bak` and the migrated file is written atomically. A newer format is
  refused (JournalError), never moved.
- An entry is journaled BEFORE its order is sent (status `pending`, `add_pending`); the fill makes
  it an open trade (`confirm_entry`), a refusal removes it (`drop_pending`).
- The safety monitor's state (day-start equity, peak, halts) is kept in the file (`safety`), so a
  restart does not clear a daily-loss halt.
- Amounts are `Decimal` in memory and JSON strings in the file (never floats), read back exactly.

Modules, one job each:
    records     TradeRecord (pending / open / closed), its allowed values, exact Decimal conversion
    document    JournalData: the whole file's content and its JSON text
    migrations  FORMAT_VERSION and the chain of steps that brings an older file up to it
    file        JournalFile: the lock, load (migrate, move a corrupt file aside), atomic save
    tracker     PerformanceTracker: this bot's trades, persisted at every change
    summary     the performance summary, its coloured lines, describe_trade
Times are converted by whale.timefmt (iso_utc, epoch_ms).

File format and decisions: docs/journal.md.
"""

from whale.journal.document import JournalData, encode
from whale.journal.file import (
    LIVE_JOURNAL,
    PAPER_JOURNAL,
    JournalError,
    JournalFile,
    LoadResult,
    journal_filename,
    lock_holder,
    write_atomic,
)
from whale.journal.records import (
    MODES,
    NETWORKS,
    SETUPS,
    SIDES,
    STATUSES,
    STOP_KIND_NAMES,
    STRATEGIES,
    TradeRecord,
    decimal_text,
    to_decimal,
)
from whale.journal.summary import describe_trade, format_summary_lines, summarize
from whale.journal.tracker import PerformanceTracker

__all__ = [
    "LIVE_JOURNAL",
    "MODES",
    "NETWORKS",
    "PAPER_JOURNAL",
    "SETUPS",
    "SIDES",
    "STATUSES",
    "STOP_KIND_NAMES",
    "STRATEGIES",
    "JournalData",
    "JournalError",
    "JournalFile",
    "LoadResult",
    "PerformanceTracker",
    "TradeRecord",
    "decimal_text",
    "describe_trade",
    "encode",
    "format_summary_lines",
    "journal_filename",
    "lock_holder",
    "summarize",
    "to_decimal",
    "write_atomic",
]
