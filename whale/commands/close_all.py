"""`python whalebot.py close-all [--yes] [--symbol S]`: the emergency close on demand — cancel every
order and close every position of the account (or of one symbol) with reduce-only market orders
(bounded retries). A running bot records the close from its private stream (reason `manual`)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def register(subparsers, parent) -> argparse.ArgumentParser:
    p = subparsers.add_parser("close-all", parents=[parent], help="cancel every order and close every position now",
                              description="Cancel every open order of the account and close every position with "
                                          "reduce-only market orders (of one symbol with --symbol), after a "
                                          "confirmation prompt.")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--symbol", metavar="S", help="only this symbol's orders and position (default: every symbol)")
    p.add_argument("--workdir", metavar="DIR", default=".", help="where the paper journal lives (dry_run only)")
    return p


def confirm(question: str) -> bool:
    if not sys.stdin.isatty() and not os.environ.get("WHALEBOT_CONFIRM_FROM_STDIN"):
        from whale.errors import BadInputError

        raise BadInputError("close-all needs a confirmation and stdin is not a terminal: add --yes")
    try:
        answer = input(f"{question} Type 'yes' to continue: ")
    except EOFError:
        return False
    return answer.strip().lower() == "yes"


def run(args: argparse.Namespace) -> int:
    from dotenv import load_dotenv

    from whale.commands._shared import load_cli_config
    from whale.commands.run import KEY_VAR, SECRET_VAR
    from whale.errors import BadInputError
    from whale.logs import register_secret

    load_dotenv(Path(args.workdir) / ".env" if Path(args.workdir, ".env").exists() else None)
    key, secret = os.environ.get(KEY_VAR) or None, os.environ.get(SECRET_VAR) or None
    register_secret(key)
    register_secret(secret)
    loaded, log = load_cli_config(args, console=True, create_if_missing=False)
    cfg = loaded.config
    symbol = args.symbol.strip().upper() if args.symbol else None
    if args.symbol is not None and not symbol:
        raise BadInputError("--symbol: give a symbol, e.g. --symbol BTCUSDT")
    if cfg.dry_run:
        return _close_paper(cfg, Path(args.workdir), args.yes, log, symbol)
    if not (key and secret):
        raise BadInputError(f"close-all sends real orders: set {KEY_VAR} and {SECRET_VAR} in .env or the environment")
    return _close_exchange(cfg, key, secret, args.yes, log, str(args.config), symbol)


def _what(symbol: str | None) -> str:
    return f"every {symbol}" if symbol else "every"


def _close_exchange(cfg, key: str, secret: str, yes: bool, log, config_path: str = "config.json",
                    symbol: str | None = None) -> int:
    """Cancel and close on the exchange like the emergency close: every step is logged (the file
    is the record of a manual intervention) and the outcome goes out as an `emergency` alert."""
    from whale.alerts import AlertSystem
    from whale.bot.emergency import close_everything
    from whale.bot.loop import DEFAULT_DEADLINE_S
    from whale.risk.safety import EmergencyPlan
    from whale.venue.registry import VenueOptions, open_venue

    venue = open_venue(cfg, VenueOptions(log, api_key=key, api_secret=secret))
    alerts = AlertSystem.from_config(cfg.alerts, log)
    try:
        data = venue.market_data
        data.connect(DEFAULT_DEADLINE_S, None, config_path, symbol=symbol or cfg.symbols[0])
        execution = venue.execution()
        held = execution.positions(symbol)  # both sides in hedge mode, every symbol unless --symbol
        orders = execution.open_orders(symbol)
        scope = f" {symbol}" if symbol else ""
        what = "; ".join(_describe_position(p) for p in held) or f"no{scope} position"
        print(f"On {venue.network} ({data.host}): {what}; {len(orders)} open{scope} order(s).")
        if not held and not orders:
            print("Nothing to close.")
            return 0
        question = f"Cancel every{scope} order and close {'the positions' if len(held) > 1 else 'the position'} " \
                   f"at market?"
        if not yes and not confirm(question):
            print("Nothing done.")
            return 0
        log.warning(f"close-all on {venue.network} ({data.host}): {what}; {len(orders)} open order(s) to cancel")
        plan = EmergencyPlan(("close-all requested",))
        logged = _LoggedCancels(execution, orders, log)
        flat = close_everything(logged, lambda: _close_once(execution, log, symbol), plan, log, time.sleep, symbol)
        names = symbol or ", ".join(sorted({p.symbol for p in held})) or "account"
        if flat:
            message = f"close-all: {_what(symbol)} order cancelled and every position closed ({what} before)"
            if symbol is None and held and len({p.symbol for p in held}) == 1:
                message = (f"close-all: every {held[0].symbol} order cancelled and the position closed "
                           f"({what} before)")
        else:
            message = (f"close-all: a {names} position is STILL OPEN after {plan.max_attempts} attempts "
                       f"({what} before): close it by hand")
        alerts.send_alert(message, "WARNING" if flat else "ERROR", "emergency")
    finally:
        venue.close(2.0)
        alerts.close(timeout=5.0)  # post the alert before the process ends
    if flat:
        print(f"Closed: {_what(symbol)} order cancelled and every position closed.")
        return 0
    print(f"A {names} position is STILL OPEN after {plan.max_attempts} attempts: close it on the exchange.")
    return 1


def _describe_position(pos) -> str:
    """`Buy 0.01 BTCUSDT @ 65000`."""
    return f"{pos.side.name} {pos.size} {pos.symbol} @ {pos.entry_price}"


def _close_once(execution, log, symbol: str | None) -> None:
    """One reduce-only market close of every position (of `symbol`; both sides in hedge mode), logged
    before and after, so the log shows every attempt and its fill even when a retry follows."""
    from whale.venue.ids import new_link_id

    for pos in execution.positions(symbol):
        link_id = new_link_id("closeall")
        log.info(f"close-all: closing {_describe_position(pos)} with a reduce-only market order ({link_id})")
        fill = execution.close_position(pos.symbol, pos.size, link_id, pos.position_idx)
        log.info(f"close-all: closed {fill.qty} {pos.symbol} {fill.side.name} @ {fill.price} (order {fill.order_id}, "
                 f"fee {fill.fee})")


class _LoggedCancels:
    """The Execution as close_everything sees it, with each cancelled order logged by its id, what it
    was and its link id (the venue's cancel lists only the ids)."""

    def __init__(self, execution, orders: list, log) -> None:
        self.execution, self.log = execution, log
        self.known = {o.order_id: o for o in orders}

    def cancel_all(self, symbol: str | None = None) -> list:
        cancelled = self.execution.cancel_all(symbol)
        if not cancelled:
            self.log.info(f"close-all: no open{' ' + symbol if symbol else ''} order to cancel")
        for item in cancelled:
            order = self.known.get(item.order_id, item)
            self.log.info(f"close-all: cancelled {order.text or 'an order'} {order.symbol} (order {item.order_id}, "
                          f"link {item.link_id or order.link_id or '-'})")
        return cancelled

    def positions(self, symbol: str | None = None) -> list:
        return self.execution.positions(symbol)

    def close_position(self, symbol: str, qty, link_id: str, position_idx: int | None = None):
        return self.execution.close_position(symbol, qty, link_id, position_idx)


def _close_paper(cfg, workdir: Path, yes: bool, log, symbol: str | None) -> int:
    """Paper positions live in the paper journal: close them at the current public prices, unless a
    paper bot holds the journal (then that bot owns it: stop it first)."""
    from decimal import Decimal

    from whale.alerts import AlertSystem
    from whale.backtest.runner import symbol_config
    from whale.errors import WhaleError
    from whale.journal import PerformanceTracker, journal_filename, lock_holder
    from whale.positions import PositionManager
    from whale.strategy.stops import R_MANUAL
    from whale.venue.ids import new_link_id
    from whale.venue.paper import PaperExecution
    from whale.venue.registry import VenueOptions, open_venue

    path = workdir / journal_filename(True)
    pid = lock_holder(path)
    if pid is not None:
        raise WhaleError(f"a paper bot (pid {pid}) is running on {path}: stop it (Ctrl-C) and run close-all again")
    tracker = PerformanceTracker(path, network=cfg.exchange.network, mode="paper", symbols=cfg.symbols,
                                 start_balance=cfg.trade_management.account_balance)
    venue = open_venue(cfg, VenueOptions(log))
    try:
        data = venue.market_data
        execution = PaperExecution(data.instrument, cfg.fees,
                                   start_balance=Decimal(str(cfg.trade_management.account_balance)),
                                   leverage=Decimal(str(cfg.trade_management.leverage)), state=tracker.paper_state(),
                                   save=tracker.set_paper_state, journal_name=path.name)
        held = execution.positions(symbol)
        if not held:
            print(f"No paper{' ' + symbol if symbol else ''} position in {path}.")
            return 0
        for p in held:
            print(f"Paper position: {_describe_position(p)}")
        if not yes and not confirm(f"Close {'them' if len(held) > 1 else 'it'} at the current price?"):
            print("Nothing done.")
            return 0
        for p in held:
            execution.on_tick(p.symbol, float(data.last_price(p.symbol)), data.market_time_ms(p.symbol))
            scfg = symbol_config(cfg, p.symbol)
            pm = PositionManager(scfg, execution.for_symbol(p.symbol), tracker, AlertSystem(log), log,
                                 new_link_id=new_link_id, now_ms=_fixed(data.market_time_ms(p.symbol)))
            pm.reconcile(None, execution.last_prices[p.symbol][0])
            if pm.trade is not None:
                pm.exit(R_MANUAL, "close-all")
            elif execution.position(p.symbol) is not None:
                execution.close_position(p.symbol, p.size, new_link_id("closeall"))
        print(f"Closed the paper position{'s' if len(held) > 1 else ''}.")
        return 0
    finally:
        venue.close(2.0)
        tracker.close()


def _fixed(ms: int):
    """A clock that always says `ms` (close-all's one moment)."""
    return lambda: ms
