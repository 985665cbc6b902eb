"""`python whalebot.py import-tardis`: Tardis.dev CSV datasets of a Bybit symbol -> a book recording.

    python whalebot.py import-tardis --book bybit_incremental_book_L2_2025-06-01_BTCUSDT.csv.gz \\
        --trades bybit_trades_2025-06-01_BTCUSDT.csv.gz --out recordings/

Reads Tardis's `incremental_book_L2` and `trades` CSV formats (gzip allowed; either file alone
works too) and writes the recording format of docs/recording.md (one file per UTC hour under
OUT/<SYMBOL>/). Bad input (a missing column, rows out of time order, a book without a snapshot, an
exchange other than Bybit, a value that is not a number): one message naming the file and the
line, exit 2. No config or network is needed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from whale.errors import EXIT_OK


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "import-tardis", parents=[parent], help="convert Tardis.dev CSV files (Bybit) into a book recording",
        description="Convert Tardis.dev's incremental_book_L2 and trades CSV files (gzip allowed) of one Bybit "
                    "symbol into the book recording format (docs/recording.md): one file per UTC hour under "
                    "OUT/<SYMBOL>/.")
    p.add_argument("--book", type=Path, default=None, metavar="FILE", help="Tardis incremental_book_L2 CSV")
    p.add_argument("--trades", type=Path, default=None, metavar="FILE", help="Tardis trades CSV")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="recording directory to write into")
    p.add_argument("--symbol", default=None, help="take only this symbol's rows (needed when a file holds several)")
    p.add_argument("--depth", type=int, default=None,
                   help="book depth to note in the files (default: the levels a side of the first snapshot)")
    p.add_argument("--trade-ids", action="store_true",
                   help="keep the trades' ids (left out by default: no decision uses them, see docs/recording.md)")
    return p


def run(args: argparse.Namespace) -> int:
    from whale.errors import BadInputError
    from whale.recording.format import utc_text
    from whale.recording.tardis import import_tardis

    if args.book is None and args.trades is None:
        raise BadInputError("import-tardis: give --book FILE, --trades FILE or both")
    stats = import_tardis(args.book, args.trades, args.out, args.symbol, args.depth, args.trade_ids)
    span = f"{utc_text(stats.first_ms)} to {utc_text(stats.last_ms)} UTC" if stats.first_ms is not None and \
        stats.last_ms is not None else "no data"
    print(f"imported {stats.book_messages:,} book messages ({stats.snapshots} snapshot"
          f"{'s' if stats.snapshots != 1 else ''}, {stats.levels:,} level changes) and {stats.trade_messages:,} trade "
          f"messages ({stats.prints:,} prints), {span}")
    if stats.skipped_before_snapshot:
        print(f"skipped {stats.skipped_before_snapshot:,} book rows before the first snapshot (updates Tardis buffered "
              f"before the exchange's snapshot)")
    if stats.other_symbols:
        print(f"skipped {stats.other_symbols:,} rows of other symbols")
    size = sum(p.stat().st_size for p in stats.files)
    print(f"wrote {len(stats.files)} file{'s' if len(stats.files) != 1 else ''} ({size / 1e6:.2f} MB) under "
          f"{args.out / stats.files[0].parent.name if stats.files else args.out}")
    return EXIT_OK
