"""Bybit V5 REST: routing, auth, rate limits, REST faults and the handlers of every endpoint
Whalebot uses, plus those a general client such as ccxt calls first (account and key info, coin
info, fee rates, order history). Linear symbols on one UNIFIED account; Bybit's other categories
are valid and hold no instrument.

Every endpoint routes by `symbol`; where Bybit lets a request leave it out (instruments-info,
tickers, fee rates, order history, executions, closed PnL) or name `baseCoin`/`settleCoin`
instead (open orders, cancel-all, positions; `coin` for switch-mode), it answers for every symbol
that matches, in the order they are listed.

Business errors are HTTP 200 envelopes with a retCode, as Bybit answers; unknown paths are HTTP 404.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from whale.sim import codes, payloads
from whale.sim.codes import ExchangeError, params_error
from whale.sim.faults import instrument_info_with_faults
from whale.sim.httpio import HttpRequest, response_bytes
from whale.sim.matching import Exchange, requested_mode
from whale.sim.payloads import envelope
from whale.sim.records import Order

if TYPE_CHECKING:
    from whale.sim.listing import Listing
    from whale.sim.server import Core

log = logging.getLogger("whalebot.sim")

HOLD = object()  # the request is held and the connection closed without an answer (a timeout fault)


ALL = ("linear", "inverse", "spot", "option")  # Bybit's categories
DERIVATIVES = ("linear", "inverse", "option")


@dataclass(frozen=True)
class Route:
    handler: Callable[[dict], dict]
    private: bool
    categories: tuple[str, ...] = ()  # the categories Bybit accepts here; () = the endpoint takes none
    empty: Callable[[str], dict] | None = None  # the answer in a category that holds no instrument
    default_category: str | None = None  # when the request names none (kline: linear)


def _listing(cat: str) -> dict:
    return {"category": cat, "list": [], "nextPageCursor": ""}


def _plain_list(cat: str) -> dict:
    return {"category": cat, "list": []}


def _fee_rates(cat: str) -> dict:
    return {"category": cat, "list": []} if cat in ("spot", "option") else {"list": []}


class Rest:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.routes: dict[tuple[str, str], Route] = {
            ("GET", "market/time"): Route(self.time, False),
            ("GET", "market/kline"): Route(self.kline, False, ("linear", "inverse", "spot"), default_category="linear"),
            ("GET", "market/tickers"): Route(self.tickers, False, ALL, _plain_list),
            ("GET", "market/orderbook"): Route(self.orderbook, False, ALL),
            ("GET", "market/instruments-info"): Route(self.instruments, False, ALL, _listing),
            ("GET", "market/recent-trade"): Route(self.recent_trade, False, ALL, _plain_list),
            ("POST", "order/create"): Route(self._order_ref(Exchange.create_order, trading=True), True, ALL),
            ("POST", "order/amend"): Route(self._order_ref(Exchange.amend_order), True, ALL),
            ("POST", "order/cancel"): Route(self._order_ref(Exchange.cancel_order), True, ALL),
            ("POST", "order/cancel-all"): Route(self.cancel_all, True, ALL, lambda cat: {"list": [], "success": "1"}),
            ("GET", "order/realtime"): Route(self.realtime, True, ALL, _listing),
            ("GET", "order/history"): Route(self.history, True, ALL, _listing),
            ("GET", "position/list"): Route(self.positions, True, DERIVATIVES, _listing),
            ("POST", "position/trading-stop"): Route(self._empty(Exchange.trading_stop), True, DERIVATIVES),
            ("POST", "position/set-leverage"): Route(self._empty(Exchange.set_leverage), True, ("linear", "inverse")),
            ("POST", "position/switch-mode"): Route(self.switch_mode, True, ("linear",)),
            ("GET", "account/wallet-balance"): Route(self.wallet, True),
            ("GET", "account/info"): Route(self.account_info, True),
            ("GET", "account/fee-rate"): Route(self.fee_rate, True, ALL, _fee_rates),
            ("GET", "user/query-api"): Route(self.query_api, True),
            ("GET", "asset/coin/query-info"): Route(self.coin_info, True),
            ("GET", "execution/list"): Route(self.executions, True, ALL, _listing),
            ("GET", "position/closed-pnl"): Route(self.closed_pnl, True, ("linear", "inverse"), _listing),
        }

    # ------------------------------------------------------------------ dispatch

    async def handle(self, req: HttpRequest) -> bytes | object:
        core = self.core
        keep = req.keep_alive
        path = req.path
        short = path[4:] if path.startswith("/v5/") else ""
        route = self.routes.get((req.method, short))
        if route is None:
            body = envelope({}, core.wall.now_ms(), 10017, f"route not found: {req.method} {path}")
            return response_bytes(404, _json(body), keep_alive=keep)
        faults = core.faults
        faults.rest_calls += 1
        if faults.spec.ip_ban_after and faults.rest_calls == faults.spec.ip_ban_after + 1:
            faults.ban_until = max(faults.ban_until, time.monotonic() + faults.spec.ip_ban_seconds)
        if faults.ban_until > time.monotonic():
            return response_bytes(403, b"access too frequent", keep_alive=keep, content_type="text/plain")
        delay = faults.delay_ms(short)
        if delay:
            await asyncio.sleep(delay / 1000.0)
        headers: dict[str, str] = {}
        if route.private:
            payload = req.query if req.method == "GET" else req.body.decode("utf-8", "replace")
            problem = core.creds.check_rest(req.headers, payload, core.wall.now_ms())
            if problem is not None:  # headers as Bybit sends on every private answer, not counted
                return self._answer(None, problem, core.limiter.peek(short), keep)
            allowed, headers = core.limiter.check(short)
            if not allowed:
                return self._answer(None, (codes.RATE_LIMIT, "Too many visits"), headers, keep)
        try:
            params = self._params(req)
        except ExchangeError as exc:
            return self._answer(None, (exc.code, exc.message), headers, keep)
        fault = faults.order_fault() if short == "order/create" else None
        if fault is not None and fault.when == "before":
            log.info("sim: fault: order/create %s before executing", fault.kind)
            return await self._fail(fault.kind, keep)
        result, problem = self._run(route, params)
        if fault is not None:
            log.info("sim: fault: order/create %s after executing (retCode %s)", fault.kind,
                     problem[0] if problem else 0)
            if fault.kind == "ban":  # answered; the ban hits the calls after it
                faults.ban_until = max(faults.ban_until, time.monotonic() + faults.spec.ip_ban_seconds)
                return self._answer(result, problem, headers, keep)
            return await self._fail(fault.kind, keep)
        return self._answer(result, problem, headers, keep)

    def _run(self, route: Route, params: dict) -> tuple[dict | None, tuple[int, str] | None]:
        try:
            if route.categories and self._category(route, params) != "linear":
                result = self._no_instrument(route, params)
            else:
                result = route.handler(params)
            problem = None
        except ExchangeError as exc:
            result, problem = None, (exc.code, exc.message)
        self.core.publish_account()
        return result, problem

    async def _fail(self, kind: str, keep: bool) -> bytes | object:
        if kind == "ban":
            faults = self.core.faults
            faults.ban_until = max(faults.ban_until, time.monotonic() + faults.spec.ip_ban_seconds)
            return response_bytes(403, b"access too frequent", keep_alive=keep, content_type="text/plain")
        if kind == "5xx":
            return response_bytes(500, b"Internal Server Error", keep_alive=keep, content_type="text/plain")
        await asyncio.sleep(self.core.faults.spec.timeout_seconds)
        return HOLD

    def _answer(self, result, problem, headers: dict[str, str], keep: bool) -> bytes:
        now = self.core.wall.now_ms()
        if problem is None:
            body = envelope(result, now)
        else:
            body = envelope({}, now, problem[0], problem[1])
        return response_bytes(200, _json(body), headers, keep_alive=keep)

    @staticmethod
    def _params(req: HttpRequest) -> dict:
        if req.method == "GET":
            return dict(parse_qsl(req.query, keep_blank_values=True))
        if not req.body.strip():
            return {}
        try:
            params = json.loads(req.body)
        except (ValueError, UnicodeDecodeError):
            raise params_error("Params error: the body is not valid JSON") from None
        if not isinstance(params, dict):
            raise params_error("Params error: the body must be a JSON object")
        return params

    # ------------------------------------------------------------------ common checks

    @staticmethod
    def _category(route: Route, p: dict) -> str:
        cat = p.get("category") or route.default_category
        if not cat:
            raise params_error("Params error: category is required")
        if cat not in route.categories:
            raise params_error(f"Illegal category: {cat!r} (this endpoint takes {', '.join(route.categories)})")
        return cat

    @staticmethod
    def _no_instrument(route: Route, p: dict) -> dict:
        """Bybit's spot, inverse and option categories are valid here but hold no instrument: a query
        answers an empty list, as Bybit does for a category with nothing in it; a request naming a
        symbol answers "symbol invalid", as for any symbol the exchange does not list."""
        cat = p["category"]
        sym = p.get("symbol")
        if sym or route.empty is None:
            raise params_error(f"params error: symbol invalid: {sym!r} (the simulator lists no {cat} instruments)")
        return route.empty(cat)

    def _symbol(self, p: dict) -> Listing:
        """The one symbol a request must name (10001 when missing or not served)."""
        return self._targets(p, True)[0]

    def _targets(self, p: dict, required: bool, alternatives: tuple[str, ...] = ()) -> list[Listing]:
        """The symbols a request is about: the one it names; else those of its `baseCoin` (or a
        `coin` that is a base coin) or, for USDT as `settleCoin`/`coin`, every symbol; else, when
        the symbol may be left out, every symbol."""
        listings = self.core.listings
        sym = p.get("symbol")
        if sym not in (None, ""):
            lst = listings.get(sym)
            if lst is None:
                raise params_error(f"params error: symbol invalid: {sym!r} (the simulator serves "
                                   f"{', '.join(listings)})")
            return [lst]
        if required and not any(p.get(a) for a in alternatives):
            need = " or ".join(("symbol",) + alternatives)
            raise params_error(f"Params error: {need} is required")
        chosen = list(listings.values())
        for a in alternatives:
            v = p.get(a)
            if not v:
                continue
            if v == "USDT" and a != "baseCoin":
                continue  # every symbol here settles in USDT
            chosen = [lst for lst in chosen if lst.instrument.base_coin == v] if a != "settleCoin" else []
            if not chosen:
                raise params_error(f"Params error: {a} {v!r} invalid")
        return chosen

    def _order_ref(self, action: Callable[[Exchange, dict], Order], trading: bool = False) -> Callable[[dict], dict]:
        def handler(p: dict) -> dict:
            lst = self._symbol(p)
            if trading and not lst.market.trading:
                raise params_error(f"params error: {lst.symbol} is not trading yet (its candles start at "
                                   f"{int(lst.candles.ts[0])})")
            o = action(lst.exchange, p)
            return {"orderId": o.order_id, "orderLinkId": o.link_id}
        return handler

    def _empty(self, action: Callable[[Exchange, dict], object]) -> Callable[[dict], dict]:
        def handler(p: dict) -> dict:
            action(self._symbol(p).exchange, p)
            return {}
        return handler

    # ------------------------------------------------------------------ market

    def time(self, p: dict) -> dict:
        ns = self.core.wall.now_ns()
        return {"timeSecond": str(ns // 1_000_000_000), "timeNano": str(ns)}

    def kline(self, p: dict) -> dict:
        lst = self._symbol(p)
        interval = p.get("interval") or ""
        tape = lst.tape
        tape.check_interval(interval)
        start = _opt_int(p, "start")
        end = _opt_int(p, "end")
        limit = _limit(p, 200, 1000)
        m = lst.market
        rows = tape.kline_rows(interval, m.closed, m.forming, start, end, limit)
        inst = lst.instrument
        fp, fq = inst.fmt_price, inst.fmt_qty
        return {"symbol": inst.symbol, "category": "linear",
                "list": [[str(r[0]), fp(r[1]), fp(r[2]), fp(r[3]), fp(r[4]), fq(r[5]), f"{r[6]:.4f}"] for r in rows]}

    def tickers(self, p: dict) -> dict:
        rows = [lst.market.ticker_rest() for lst in self._targets(p, False) if lst.market.trading]
        return {"category": "linear", "list": rows}

    def orderbook(self, p: dict) -> dict:
        lst = self._symbol(p)
        limit = _limit(p, 25, 1000)
        m = lst.market
        bids, asks = m.levels(limit) if m.trading else ([], [])
        now = m.clock.now_ms()
        return {"s": m.inst.symbol, "b": bids, "a": asks, "ts": now, "u": lst.feed.rest_u(), "seq": m.seq, "cts": now}

    def instruments(self, p: dict) -> dict:
        """Every symbol (or the one named); one not trading yet shows as PreLaunch, which a query
        without `symbol` lists only when asked for by `status` (Bybit lists Trading by default)."""
        wanted = p.get("status") or ("" if p.get("symbol") else "Trading")
        base = p.get("baseCoin")
        spec = self.core.faults.spec.instrument
        rows = []
        for lst in self._targets(p, False):
            info = instrument_info_with_faults(lst.instrument.info(), spec)
            if not lst.market.trading:
                info = {**info, "status": "PreLaunch"}
            if (not wanted or info["status"] == wanted) and (not base or base == lst.instrument.base_coin):
                rows.append(info)
        return {"category": "linear", "list": rows, "nextPageCursor": ""}

    def recent_trade(self, p: dict) -> dict:
        lst = self._symbol(p)
        limit = _limit(p, 500, 1000)
        m = lst.market
        trades = list(m.trades)[-limit:][::-1]
        return {"category": "linear", "list": [m.trade_rest(t) for t in trades]}

    # ------------------------------------------------------------------ trade and account

    def cancel_all(self, p: dict) -> dict:
        done = []
        for lst in self._targets(p, True, ("baseCoin", "settleCoin")):
            done += lst.exchange.cancel_all(p)
        return {"list": [{"orderId": o.order_id, "orderLinkId": o.link_id} for o in done], "success": "1"}

    def realtime(self, p: dict) -> dict:
        rows = _newest_first([(o, lst.exchange) for lst in self._targets(p, True, ("baseCoin", "settleCoin"))
                              for o in lst.exchange.open_orders(p)])
        items, cursor = _page(rows, p, 20, 50)
        return {"category": "linear", "nextPageCursor": cursor, "list": [payloads.order_rest(o, ex) for o, ex in items]}

    def positions(self, p: dict) -> dict:
        rows = [(pos, lst.exchange) for lst in self._targets(p, True, ("settleCoin",))
                for pos in lst.exchange.positions.values()]
        if not p.get("symbol"):
            rows = [(pos, ex) for pos, ex in rows if pos.size]
        items, cursor = _page(rows, p, 20, 200)
        return {"category": "linear", "nextPageCursor": cursor,
                "list": [payloads.position_rest(pos, ex) for pos, ex in items]}

    def switch_mode(self, p: dict) -> dict:
        """One symbol, or every symbol of a `coin` (those not in the mode yet; all must be free to switch)."""
        targets = [lst.exchange for lst in self._targets(p, True, ("coin",))]
        if p.get("symbol"):
            targets[0].switch_mode(p)
            return {}
        hedge = requested_mode(p)
        pending = [ex for ex in targets if ex.hedge != hedge]
        if not pending:
            raise ExchangeError(codes.MODE_NOT_MODIFIED, "position mode is not modified")
        for ex in pending:
            ex.check_switchable()
        for ex in pending:
            ex.set_mode(hedge)
        return {}

    def wallet(self, p: dict) -> dict:
        acct = p.get("accountType")
        if acct != "UNIFIED":
            raise params_error(f"accountType only support UNIFIED, got {acct!r}")
        account = payloads.wallet_account(self.core.account)
        coins = [c.strip() for c in (p.get("coin") or "").split(",") if c.strip()]
        if coins and "USDT" not in coins:
            account["coin"] = []
        return {"list": [account]}

    def history(self, p: dict) -> dict:
        rows = _newest_first([(o, lst.exchange) for lst in self._targets(p, False, ("baseCoin", "settleCoin"))
                              for o in lst.exchange.order_history(p)])
        items, cursor = _page(rows, p, 20, 50)
        return {"category": "linear", "nextPageCursor": cursor, "list": [payloads.order_rest(o, ex) for o, ex in items]}

    def fee_rate(self, p: dict) -> dict:
        fees = self.core.account.fees
        return {"list": [{"symbol": lst.symbol, "takerFeeRate": payloads.money(fees.taker_rate),
                          "makerFeeRate": payloads.money(fees.maker_rate)} for lst in self._targets(p, False)]}

    def account_info(self, p: dict) -> dict:
        return payloads.account_info(self.core.started_ms)

    def query_api(self, p: dict) -> dict:
        return payloads.api_key_info(self.core.creds.api_key, self.core.started_ms)

    def coin_info(self, p: dict) -> dict:
        coins = ["USDT", *dict.fromkeys(lst.instrument.base_coin for lst in self.core.listings.values())]
        wanted = p.get("coin") or ""
        return {"rows": [payloads.coin_info(c) for c in coins if not wanted or c == wanted]}

    def executions(self, p: dict) -> dict:
        rows = [(f, lst.exchange) for lst in self._targets(p, False, ("baseCoin", "settleCoin"))
                for f in lst.exchange.executions(p)]
        rows.sort(key=lambda r: r[0].seq, reverse=True)  # newest first across symbols (seq is the account's)
        items, cursor = _page(rows, p, 50, 100)
        return {"category": "linear", "nextPageCursor": cursor,
                "list": [payloads.execution_rest(f, ex) for f, ex in items]}

    def closed_pnl(self, p: dict) -> dict:
        rows = [(c, lst.exchange) for lst in self._targets(p, False) for c in lst.exchange.closed_pnl(p)]
        rows.sort(key=lambda r: r[0].seq, reverse=True)
        items, cursor = _page(rows, p, 50, 100)
        return {"category": "linear", "nextPageCursor": cursor, "list": [payloads.closed_pnl(c, ex) for c, ex in items]}


def _newest_first(rows: list[tuple[Order, Exchange]]) -> list[tuple[Order, Exchange]]:
    """Orders of several symbols, newest createdTime first (stable: equal times keep symbol order)."""
    return sorted(rows, key=lambda r: r[0].created, reverse=True)


def _json(body: dict) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def _opt_int(p: dict, name: str) -> int | None:
    v = p.get(name)
    if v in (None, ""):
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        raise params_error(f"{name} invalid: {v!r}") from None


def _limit(p: dict, default: int, maximum: int) -> int:
    n = _opt_int(p, "limit")
    if n is None:
        return default
    if n < 1 or n > maximum:
        raise params_error(f"limit invalid: {n} (1..{maximum})")
    return n


def _page(items: list, p: dict, default: int, maximum: int) -> tuple[list, str]:
    limit = _limit(p, default, maximum)
    cursor = p.get("cursor") or ""
    try:
        offset = int(cursor) if cursor else 0
    except ValueError:
        raise params_error(f"cursor invalid: {cursor!r}") from None
    chunk = items[offset:offset + limit]
    nxt = offset + limit
    return chunk, str(nxt) if nxt < len(items) else ""
