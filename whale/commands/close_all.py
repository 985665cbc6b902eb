"""`python whalebot.py close-all [--yes]`: the emergency close on demand — cancel every order of the
symbol and close its position with reduce-only market orders (bounded retries). A running bot
records the close from its private stream (reason `manual`)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from decimal import Decimal
from pathlib import Path


def register(subparsers, parent) -> argparse.ArgumentParser:
    p = subparsers.add_parser("close-all", parents=[parent], help="cancel every order and close the position now",
                              description="Cancel every open order of the config's symbol and close its position "
                                          "with reduce-only market orders, after a confirmation prompt.")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
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
    if cfg.dry_run:
        return _close_paper(cfg, Path(args.workdir), args.yes, log)
    if not (key and secret):
        raise BadInputError(f"close-all sends real orders: set {KEY_VAR} and {SECRET_VAR} in .env or the environment")
    return _close_exchange(cfg, key, secret, args.yes, log, str(args.config))


def _close_exchange(cfg, key: str, secret: str, yes: bool, log, config_path: str = "config.json") -> int:
    """Cancel and close on the exchange like the emergency close: every step is logged (the file
    is the record of a manual intervention) and the outcome goes out as an `emergency` alert."""
    from whale.alerts import AlertSystem
    from whale.bot.emergency import close_everything, open_positions
    from whale.broker.bybit import BybitBroker
    from whale.bybit.endpoints import endpoints_for
    from whale.bybit.rest import BybitRest
    from whale.bybit.startup import DEFAULT_DEADLINE_S, connect_with_deadline
    from whale.risk.safety import EmergencyPlan

    endpoints = endpoints_for(cfg)
    connect_with_deadline(endpoints, DEFAULT_DEADLINE_S, symbol=cfg.symbol, config_path=config_path)
    alerts = AlertSystem.from_config(cfg.alerts, log)
    rest = BybitRest(endpoints, key, secret)
    try:
        rest.sync_time()
        broker = BybitBroker(rest, cfg.symbol, rest.instrument(cfg.symbol), log=log)
        held = open_positions(broker)  # both sides in hedge mode, not only the bot's positionIdx 0
        orders = rest.open_orders(cfg.symbol)
        what = "; ".join(_describe_position(p, cfg.symbol) for p in held) or _describe_position(None, cfg.symbol)
        print(f"On {endpoints.network} ({endpoints.rest_host}): {what}; {len(orders)} open order(s).")
        if not held and not orders:
            print("Nothing to close.")
            return 0
        if not yes and not confirm("Cancel every order and close the position at market?"):
            print("Nothing done.")
            return 0
        log.warning(f"close-all on {endpoints.network} ({endpoints.rest_host}): {what}; "
                    f"{len(orders)} open order(s) to cancel")
        plan = EmergencyPlan(("close-all requested",))
        logged = _LoggedCancels(broker, rest, cfg.symbol, orders, log)
        flat = close_everything(logged, lambda: _close_once(broker, cfg.symbol, log), plan, log, time.sleep)
        if flat:
            message = f"close-all: every {cfg.symbol} order cancelled and the position closed ({what} before)"
        else:
            message = (f"close-all: the {cfg.symbol} position is STILL OPEN after {plan.max_attempts} attempts "
                       f"({what} before): close it by hand")
        alerts.send_alert(message, "WARNING" if flat else "ERROR", "emergency")
    finally:
        rest.close()
        alerts.close(timeout=5.0)  # post the alert before the process ends
    if flat:
        print(f"Closed: every {cfg.symbol} order cancelled and the position closed.")
        return 0
    print(f"The {cfg.symbol} position is STILL OPEN after {plan.max_attempts} attempts: close it on the exchange.")
    return 1


def _describe_position(pos, symbol: str) -> str:
    """`Buy 0.01 BTCUSDT @ 65000`, or `no BTCUSDT position`."""
    if pos is None:
        return f"no {symbol} position"
    return f"{'Buy' if pos.side > 0 else 'Sell'} {pos.size} {symbol} @ {pos.entry_price}"


def _close_once(broker, symbol: str, log) -> None:
    """One reduce-only market close of every position of the symbol (both sides in hedge mode),
    logged before and after, so the log shows every attempt and its fill even when a retry follows."""
    from whale.bot.emergency import open_positions
    from whale.bybit.rest import new_link_id

    for pos in open_positions(broker):
        link_id = new_link_id("closeall")
        log.info(f"close-all: closing {_describe_position(pos, symbol)} with a reduce-only market order "
                 f"({link_id})")
        fill = broker.close_position(pos.size, link_id, pos.position_idx)
        log.info(f"close-all: closed {fill.qty} {symbol} {fill.side} @ {fill.price} (order {fill.order_id}, "
                 f"fee {fill.fee})")


class _LoggedCancels:
    """The broker as close_everything sees it, with each cancelled order logged by its id, type
    and price (BybitBroker.cancel_all drops the exchange's list of what it cancelled)."""

    def __init__(self, broker, rest, symbol: str, orders: list[dict], log) -> None:
        self.broker, self.rest, self.symbol, self.log = broker, rest, symbol, log
        self.known = {o.get("orderId"): o for o in orders}

    def cancel_all(self) -> None:
        cancelled = self.rest.cancel_all(self.symbol)
        if not cancelled:
            self.log.info(f"close-all: no open {self.symbol} order to cancel")
        for item in cancelled:
            order = self.known.get(item.get("orderId"), item)
            self.log.info(f"close-all: cancelled {_describe_order(order)} (order {item.get('orderId')}, "
                             f"link {item.get('orderLinkId') or '-'})")

    def position(self):
        return self.broker.position()

    def positions(self):
        from whale.bot.emergency import open_positions

        return open_positions(self.broker)


def _describe_order(order: dict) -> str:
    """`Buy Limit 0.005 @ 85140` / `Sell StopLoss Market 0.01 trigger 92699.3`, from Bybit's fields
    (which write "0" or "0.00" for no price and "UNKNOWN" for no stop type)."""
    stop_type = order.get("stopOrderType") or ""
    parts = [order.get("side") or "", "" if stop_type.upper() == "UNKNOWN" else stop_type,
             order.get("orderType") or "order", str(order.get("qty") or "")]
    if _price(order.get("triggerPrice")):
        parts.append(f"trigger {order['triggerPrice']}")
    elif _price(order.get("price")):
        parts.append(f"@ {order['price']}")
    return " ".join(p for p in parts if p)


def _price(text) -> bool:
    """A price field that holds a price (not empty, not zero)."""
    try:
        return Decimal(str(text)) != 0
    except (ArithmeticError, ValueError):
        return False


def _close_paper(cfg, workdir: Path, yes: bool, log) -> int:
    """Paper positions live in the paper journal: close one at the current public price, unless a
    paper bot holds the journal (then that bot owns it: stop it first)."""
    from whale.alerts import AlertSystem
    from whale.broker.paper import PaperBroker
    from whale.bybit.endpoints import endpoints_for
    from whale.bybit.rest import BybitRest, new_link_id
    from whale.errors import WhaleError
    from whale.journal import PerformanceTracker, journal_filename, lock_holder
    from whale.positions import PositionManager
    from whale.strategy.stops import R_MANUAL

    path = workdir / journal_filename(True)
    pid = lock_holder(path)
    if pid is not None:
        raise WhaleError(f"a paper bot (pid {pid}) is running on {path}: stop it (Ctrl-C) and run close-all again")
    tracker = PerformanceTracker(path, network=cfg.network, mode="paper", symbol=cfg.symbol,
                                 start_balance=cfg.trade_management.account_balance)
    rest = BybitRest(endpoints_for(cfg))
    try:
        broker = PaperBroker(rest.instrument(cfg.symbol), cfg.fees,
                             start_balance=Decimal(str(cfg.trade_management.account_balance)),
                             leverage=Decimal(str(cfg.trade_management.leverage)), state=tracker.paper_state(),
                             save=tracker.set_paper_state)
        pos = broker.position()
        if pos is None:
            print(f"No paper {cfg.symbol} position in {path}.")
            return 0
        print(f"Paper position: {'Buy' if pos.side > 0 else 'Sell'} {pos.size} {cfg.symbol} @ {pos.entry_price}")
        if not yes and not confirm("Close it at the current price?"):
            print("Nothing done.")
            return 0
        broker.on_tick(float(rest.last_price(cfg.symbol)), rest.market_time_ms(cfg.symbol))
        pm = PositionManager(cfg, broker, tracker, AlertSystem(log), log, new_link_id=new_link_id,
                             now_ms=lambda: rest.market_time_ms(cfg.symbol))
        pm.reconcile(None, broker.last_price)
        if pm.trade is not None:
            pm.exit(R_MANUAL, "close-all")
        else:
            broker.close_position(pos.size, new_link_id("closeall"))
        print("Closed the paper position.")
        return 0
    finally:
        rest.close()
        tracker.close()
