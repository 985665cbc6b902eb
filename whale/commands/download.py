"""`python whalebot.py download`: page Bybit's kline endpoint into the backtest's candle CSV.

    python whalebot.py download --symbol ETHUSDT --interval 5 --from 2025-01-01 --to 2025-02-01 --out eth5.csv

Closed candles only, ascending, no duplicates, in `timestamp_ms,open,high,low,close,volume` (gzip when
the file name ends in .gz). The network is the config's (`network`, or the custom `rest_url`) unless
`--network` or `--rest-url` (e.g. a simulator started with `python whalebot.py sim`) says otherwise.
Bad dates, interval or symbol: exit 2. Bybit unreachable: exit 1, naming the host.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from whale.errors import BadInputError, WhaleError

NETWORK_CHOICES = ("mainnet", "testnet", "demo-trading")


def register(subparsers, parent: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "download", parents=[parent], help="download Bybit candles into a backtest CSV",
        description="Download closed candles of a Bybit USDT perpetual into the candle CSV format the backtest "
                    "reads (timestamp_ms,open,high,low,close,volume; .gz compresses). Public data: no API keys.")
    p.add_argument("--symbol", default=None, help="symbol, e.g. BTCUSDT (default: the config's)")
    p.add_argument("--interval", default=None,
                   help="Bybit interval: 1 3 5 15 30 60 120 240 360 720 D W M (default: the config's)")
    p.add_argument("--from", dest="date_from", required=True, metavar="DATE",
                   help="first candle, UTC (YYYY-MM-DD or YYYY-MM-DDTHH:MM)")
    p.add_argument("--to", dest="date_to", required=True, metavar="DATE",
                   help="end, UTC, exclusive (candles opening before it); capped at the last closed candle")
    p.add_argument("--out", required=True, metavar="FILE", help="CSV file to write (.gz for gzip)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--network", choices=NETWORK_CHOICES, default=None,
                       help="Bybit network (default: the config's `network`)")
    where.add_argument("--rest-url", default=None, metavar="URL",
                       help="any Bybit V5 REST base URL, e.g. http://127.0.0.1:8765 for `python whalebot.py sim`")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _date(text: str, flag: str) -> int:
    cleaned = text.strip().replace(" ", "T").rstrip("Z")
    for fmt in ("%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"):
        try:
            return int(datetime.strptime(cleaned, fmt).replace(tzinfo=UTC).timestamp() * 1000)
        except ValueError:
            continue
    raise BadInputError(f"{flag} {text!r}: expected a UTC date such as 2025-05-20 or 2025-05-20T14:30")


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def _settings(args: argparse.Namespace):
    """(endpoints, symbol, interval, logger) from the arguments and, where they are silent, the config."""
    from whale.bybit.endpoints import custom_endpoints, endpoints_for, endpoints_for_network
    from whale.commands._shared import config_or_defaults

    cfg, log = config_or_defaults(args)
    if args.rest_url:
        endpoints = custom_endpoints(args.rest_url)
    elif args.network:
        endpoints = endpoints_for_network(args.network)
    else:
        endpoints = endpoints_for(cfg)
    return endpoints, (args.symbol or cfg.symbol).strip().upper(), (args.interval or cfg.interval).strip(), log


def run(args: argparse.Namespace) -> int:
    from whale.config.model import BYBIT_INTERVALS
    from whale.market.intervals import label
    from whale.text import plural

    start_ms = _date(args.date_from, "--from")
    end_ms = _date(args.date_to, "--to")
    if end_ms <= start_ms:
        raise BadInputError(f"--to {args.date_to} must be after --from {args.date_from}")
    out = Path(args.out)
    if out.exists() and out.is_dir():
        raise BadInputError(f"--out {out}: is a directory")
    endpoints, symbol, interval, log = _settings(args)
    if interval not in BYBIT_INTERVALS:
        raise BadInputError(f"--interval {interval!r}: expected one of {' '.join(BYBIT_INTERVALS)}")
    if not symbol:
        raise BadInputError("--symbol must not be empty")
    candles = download(endpoints, symbol, interval, start_ms, end_ms,
                       progress=not args.no_progress and sys.stderr.isatty(), log=log)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        from whale.candle_file import write_candle_csv
        write_candle_csv(out, candles)
    except OSError as exc:
        raise BadInputError(f"--out {out}: cannot write ({exc.strerror or exc})") from None
    what = plural(len(candles), f"closed {symbol} {label(interval)} candle")
    print(f"wrote {what} ({_utc(int(candles.ts[0]))} .. {_utc(int(candles.ts[-1]))} UTC) from {endpoints.rest_host} "
          f"to {out}")
    return 0


def download(endpoints, symbol: str, interval: str, start_ms: int, end_ms: int, *, progress: bool = False,
             log=None):
    """Closed candles opening in [start_ms, end_ms), ascending, without duplicates."""
    import numpy as np
    from tqdm import tqdm

    from whale.bybit.rest import BybitRest
    from whale.market.intervals import bucket_end, bucket_start, interval_ms, label

    first = int(bucket_start(np.array([start_ms]), interval)[0])
    if first < start_ms:
        first = int(bucket_end(np.array([first]), interval)[0])
    rest = BybitRest(endpoints, timeout=15.0)
    bar = None
    try:
        rest.instrument(symbol)  # a symbol Bybit does not list: exit 2 with a message
        if progress:
            expected = max(1, (end_ms - first) // interval_ms(interval))
            bar = tqdm(total=int(expected), unit="candle", desc=f"{symbol} {label(interval)}", file=sys.stderr,
                       dynamic_ncols=True)

        def on_page(n: int, _target) -> None:
            if bar is not None:
                bar.update(max(0, n - bar.n))

        candles = rest.history(symbol, interval, None, start_ms=first, end_ms=end_ms - 1, progress=on_page)
    finally:
        if bar is not None:
            bar.close()
        rest.close()
    if len(candles) == 0:
        raise WhaleError(f"no closed {symbol} {label(interval)} candles between {_utc(start_ms)} and {_utc(end_ms)} "
                         f"UTC on {endpoints.rest_host} (too early, or not closed yet)")
    step = interval_ms(interval)
    if interval not in ("M",) and len(candles) > 1:
        missing = int(((np.diff(candles.ts) // step) - 1).sum())
        if missing and log is not None:
            log.warning("%d candle(s) missing inside the range (Bybit has none there): the backtest reports the gaps",
                        missing)
    return candles
