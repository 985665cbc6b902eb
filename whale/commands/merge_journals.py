"""`python whalebot.py merge-journals --out DIR DIR1 DIR2 ...`: the journals of several single-symbol
work directories as one account journal (docs/journal.md#merging-journals). The sources are only
read; the merged journal goes to the new directory, which a multi-symbol bot then uses as --workdir."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers, parent) -> argparse.ArgumentParser:
    p = subparsers.add_parser("merge-journals", parents=[parent],
                              help="merge single-symbol work directories' journals into one account journal",
                              description="Merge the trade_history.json (and trade_history.paper.json) of several "
                                          "work directories, one bot per symbol, into one account journal in a new "
                                          "directory. The sources are not changed.")
    p.add_argument("--out", metavar="DIR", required=True, help="the new work directory for the merged journal")
    p.add_argument("dirs", metavar="DIR", nargs="+", help="the work directories to merge")
    return p


def run(args: argparse.Namespace) -> int:
    from whale.journal.merge import merge_directories

    results = merge_directories([Path(d) for d in args.dirs], Path(args.out))
    for r in results:
        d = r.data
        symbols = sorted({t.symbol for t in d.trades})
        print(f"Merged into {r.path}: {len(d.trades)} trade(s) of {', '.join(symbols) or 'no symbol'} "
              f"({sum(t.is_open for t in d.trades)} open), {d.network}/{d.mode}:")
        for line in r.lines:
            print(f"  {line}")
    print(f"Run the bot for all of them with --workdir {args.out} and `symbols` listing them in the config.")
    return 0
