"""Render `docs/config.md`, the reference of every config key, from the model's metadata.

    python -m whale.config.doc > docs/config.md

A test checks that the committed file equals this output, so the page cannot drift from the model.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any

from whale.config import legacy
from whale.config.loader import _hints, _range_text
from whale.config.model import ACCOUNT_WIDE, ActiveWeights, Config, Overrides, to_dict

INTRO = """\
# Config reference (`config.json`)

Generated from `whale/config/model.py` by `python -m whale.config.doc > docs/config.md`; do not
edit by hand.

- A missing `config.json` (the default path) is created once with these defaults, and the bot says
  so. A file named with `--config FILE` must exist: a missing one is an error (exit 2) naming it, so
  a mistyped path never trades the defaults. Whalebot never writes to an existing file: keys you
  leave out take their defaults in memory.
- At start (and with `python whalebot.py check-config [--config F]`) every key is checked: unknown
  keys (with a "did you mean"), wrong types, values out of range, invalid Bybit intervals, weights
  that name no scorer, and the rules between keys below. Every problem is listed, one line each,
  with its key path, and the bot exits with code 2.
- Types are JSON types: a `number` takes `1` or `1.5`; an `integer` takes `14` (or `14.0`) but not
  `14.5`; `true`/`false` are not numbers; intervals are strings (`"15"`, not `15`).
- Secrets (API key and secret, webhook URL) belong in `.env` or the environment, never here:
  `BYBIT_API_KEY`, `BYBIT_API_SECRET`, and the webhook URL in the variable named by
  `alerts.webhook_url_env`. A key that looks like a secret in `config.json` is an error.
- `--log-level` on the command line overrides `logging.level`.
- Keys marked *account-wide* belong to the account or the loop; every other key may differ per
  symbol through `overrides` ([Symbols, exchange and overrides](#symbols-exchange-and-overrides)).
"""

SYMBOLS = """\
## Symbols, exchange and overrides

One process trades every symbol of `symbols` on one exchange account: one wallet, one journal, one
safety monitor, one connection. Every key above is the default of all symbols; `overrides` gives a
symbol its own value of any key that is not account-wide.

```json
{
    "symbols": ["BTCUSDT", "ETHUSDT", "SOLUSDT"],
    "exchange": {"name": "bybit", "network": "testnet"},
    "trade_management": {"max_open_positions": 2, "risk_per_trade_percent": 1.0},
    "overrides": {
        "ETHUSDT": {
            "trade_management": {"risk_per_trade_percent": 0.5, "leverage": 3},
            "active_weights": {"momentum_rsi_stoch_cci_wr_mfi": 0.2},
            "signal_score_threshold": 2.5
        }
    }
}
```

- `symbols`: at least one, each a linear USDT perpetual (capital letters and digits ending in
  `USDT`) listed once. The bot's single-symbol code sees the first of them as `symbol`.
- `exchange`: where the account is. `name` picks the exchange (today only `bybit`; another
  exchange is one more entry in `whale.config.model.EXCHANGES` and its venue package). `network`
  and the three URLs are as before, now inside this block.
- `overrides`: symbol -> the keys that symbol sets differently, nested as at the top level and at
  any depth (a whole section, or one key of it). A key the override leaves out takes the top
  level's value. The symbol must be in `symbols`. Each symbol's effective config (the top level
  with its overrides) is checked exactly as the top level: types, ranges, unknown keys with a "did
  you mean", the rules between keys, and the leverage its instrument allows. A problem names the
  key as written, e.g. `overrides.ETHUSDT.trade_management.leverage: 150 is outside the leverage
  ETHUSDT allows on Bybit: 1 to 100`; a top-level key that is only wrong together with a symbol's
  overrides is named `key (for ETHUSDT, with overrides.ETHUSDT)`.
- Account-wide keys cannot be overridden (an error names the key and why). They are:

{account_wide}
- Everything else may differ per symbol, including `orderbook_limit` and `density.book_depth`
  (each symbol has its own `orderbook.{depth}.{symbol}` subscription), `fees` (slippage and
  funding differ between symbols, and Bybit quotes fee rates per symbol), `trade_management.leverage`
  (Bybit sets leverage per symbol), `trade_management.enabled` (a symbol that only shows signals),
  `strategy.mode`, the indicators, weights, thresholds, exits and the per-order `risk` keys.
- `trade_management.max_open_positions` counts the open positions of every symbol of the account,
  also ones Whalebot did not open; at the limit no entry is made. One symbol holds at most one
  position (one-way mode, positionIdx 0), so with one symbol any value behaves as 1 did.
- Correlation (`risk.correlation_*`, `risk.max_correlated_exposure_percent`): two symbols are
  correlated when the Pearson correlation of their log returns over the last `correlation_lookback`
  common candles of `interval` is above `correlation_threshold`. An entry forms a group with each
  open position of a correlated symbol on the same side (or on the opposite side when the
  correlation is below minus the threshold: a short of one and a long of the other is the same
  bet); the group's notional after the entry may be at most `max_correlated_exposure_percent` % of
  equity. The default lookback, 500 candles (about 5 days of 15-minute candles), gives a
  correlation near 0.7 a standard error of about 0.02, and loads in one request per symbol.

### Moved keys

A one-symbol file still loads: `symbol` becomes `symbols` with that one symbol, and the top-level
`network`, `rest_url`, `public_ws_url` and `private_ws_url` go into `exchange`, each with one
deprecation warning. Given at both places, the two must agree (else an error names both).
"""

RULES = """\
## Rules between keys

- `mtf_analysis.higher_timeframes`: with `mtf_analysis.enabled`, at least one entry (error), each
  longer than `interval`. One that is not longer (`60` with interval `60`, which the original
  accepted) is a warning and is ignored: it is dropped from the effective config, and if none
  remains, multi-timeframe analysis is off. One that is not a whole multiple of `interval` (`5`
  over `3`, `360` over `240`, `M` over `W`) is a warning: live fetches higher-timeframe candles from
  Bybit, so it works, but its candles close out of step and a backtest cannot build them from
  `interval` candles. An entry that is not a Bybit interval is an error.
  `mtf_analysis.trend_indicators` must not be empty then either. No list may name a value twice.
- `exchange.rest_url`, `exchange.public_ws_url`, `exchange.private_ws_url`: only with
  `exchange.network` `custom`, and then all three are required (`http(s)://` for REST, `ws(s)://`
  for the WebSockets).
- `indicator_settings`: `ADX_WEAK_TREND_THRESHOLD` <= `ADX_STRONG_TREND_THRESHOLD`; each
  `*_oversold` < its `*_overbought` (rsi, stoch_rsi, cci, williams_r, mfi, roc);
  `macd_fast_period` < `macd_slow_period`; `ema_short_period` < `ema_long_period`;
  `kama_fast_period` < `kama_slow_period`; `psar_acceleration` <= `psar_max_acceleration`;
  `ehlers_fast_period` <= `ehlers_slow_period` (if equal, `ehlers_fast_multiplier` <
  `ehlers_slow_multiplier`); `ichimoku_tenkan_period` <= `ichimoku_kijun_period` <=
  `ichimoku_senkou_span_b_period`.
- `safety.max_drawdown_soft_percent` <= `safety.max_drawdown_hard_percent`;
  `take_profit.velocity_short_window_sec` < `take_profit.velocity_long_window_sec`.
- `active_weights`: every weight >= 0 (0 switches the scorer off).
- `symbols`: not empty; each listed once, capital letters and digits, ending in `USDT`.
- `overrides`: each symbol in `symbols`; no account-wide key; each symbol's effective config
  follows every rule here that its keys take part in.
- `trade_management.leverage`, for each symbol (with its override): for the symbols whose Bybit
  rules Whalebot knows offline (BTCUSDT, ETHUSDT and SOLUSDT: 1 to 100; XRPUSDT and BCHUSDT: 1 to
  75; all in steps of 0.01), within that range and on that step; Bybit would refuse any other
  value when the bot sets the leverage at start. Other symbols are checked by Bybit at start.
- `alerts.webhook_url_env`: an environment variable name, not the URL itself.
- Warnings only: `trade_management.reverse_position_on_opposite_signal` without
  `close_on_opposite_signal` has no effect; `trade_management.account_balance` at or below
  `safety.min_balance_usdt` would stop paper trading and backtests at once;
  `risk.max_correlated_exposure_percent` above `risk.max_total_exposure_percent` never binds.
"""

LEGACY_INTRO = """\
## Keys of the original Whalebot

An existing file of the original still loads: each of these keys gives one warning that says
what replaced it. Where the original's behaviour depended on a key, it is applied to the new key
(and the warning says so).
"""


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is tuple:
        return "list of strings"
    if tp is Overrides:
        return "object"
    return {bool: "true/false", int: "integer", float: "number", str: "string"}.get(tp, str(tp))


def _allowed(cls: type, f: dataclasses.Field) -> str:
    meta = f.metadata
    parts = []
    if meta.get("choices"):
        parts.append("one of " + ", ".join(f"`{c}`" for c in meta["choices"]))
    if meta.get("item_choices"):
        parts.append("each one of " + ", ".join(f"`{c}`" for c in meta["item_choices"]))
    lo, hi = meta.get("lo"), meta.get("hi")
    if lo is not None or hi is not None:
        text = _range_text(lo, hi, meta.get("lo_open", False), meta.get("hi_open", False))
        parts.append(text.replace("out of range: must be ", "").replace("out of range ", ""))
    if cls is ActiveWeights:
        parts.append(">= 0")
    if f.type in (Overrides, "Overrides"):
        parts.append("symbol of `symbols` -> settings")
    return "; ".join(parts)


def _default(value: Any) -> str:
    return f"`{json.dumps(to_dict(value))}`"  # as written in config.json


def _rows(cls: type, prefix: str, out: list[str]) -> None:
    nested = []
    rows = []
    for f in dataclasses.fields(cls):
        tp = _hints(cls)[f.name]
        path = f"{prefix}{f.name}"
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            nested.append((tp, path))
            continue
        meaning = f.metadata.get("doc", "").replace("|", chr(92) + "|")
        if path in ACCOUNT_WIDE and path != "overrides":
            meaning = f"*account-wide*: {meaning}"
        rows.append(f"| `{path}` | {_type_name(tp)} | {_default(f.default)} | {_allowed(cls, f)} | {meaning} |")
    title = f"`{prefix[:-1]}`" if prefix else "Top level"
    out.append(f"## {title}\n")
    doc = (cls.__doc__ or "").strip()
    if doc and not doc.startswith(cls.__name__ + "("):  # dataclasses make up a signature as doc
        out.append(doc + "\n")
    if prefix[:-1] in ACCOUNT_WIDE:
        out.append(f"*Account-wide*, every key: {ACCOUNT_WIDE[prefix[:-1]]}.\n")
    out.append("| key | type | default | allowed | meaning |")
    out.append("|---|---|---|---|---|")
    out.extend(rows)
    out.append("")
    for sub, path in nested:
        _rows(sub, path + ".", out)


def render() -> str:
    """The whole markdown page."""
    out = [INTRO]
    _rows(Config, "", out)
    wide = "\n".join(f"  - `{path}`: {why}" for path, why in ACCOUNT_WIDE.items())
    out.append(SYMBOLS.replace("{account_wide}", wide))
    out.append(RULES)
    out.append(LEGACY_INTRO)
    out.append("| key | replaced by |")
    out.append("|---|---|")
    for path, what in legacy.MAPPED.items():
        out.append(f"| `{path}` | {what} |")
    for path, why in legacy.IGNORED.items():
        out.append(f"| `{path}` | ignored: {why} |")
    return "\n".join(out).rstrip("\n") + "\n"


if __name__ == "__main__":
    print(render(), end="")
