"""Bybit V5 REST: routing, auth, rate limits, REST faults and the handlers of every endpoint
Whalebot uses, plus those a general client such as ccxt calls first (account and key info, coin
info, fee rates, order history). One linear symbol, one UNIFIED account; Bybit's other categories
are valid and hold no instrument.

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
from whale.sim.payloads import envelope
from whale.sim.records import Order

if TYPE_CHECKING:
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
        c = core
        self.routes: dict[tuple[str, str], Route] = {
            ("GET", "market/time"): Route(self.time, False),
            ("GET", "market/kline"): Route(self.kline, False, ("linear", "inverse", "spot"), default_category="linear"),
            ("GET", "market/tickers"): Route(self.tickers, False, ALL, _plain_list),
            ("GET", "market/orderbook"): Route(self.orderbook, False, ALL),
            ("GET", "market/instruments-info"): Route(self.instruments, False, ALL, _listing),
            ("GET", "market/recent-trade"): Route(self.recent_trade, False, ALL, _plain_list),
            ("POST", "order/create"): Route(self._order_ref(c.exchange.create_order), True, ALL),
            ("POST", "order/amend"): Route(self._order_ref(c.exchange.amend_order), True, ALL),
            ("POST", "order/cancel"): Route(self._order_ref(c.exchange.cancel_order), True, ALL),
            ("POST", "order/cancel-all"): Route(self.cancel_all, True, ALL, lambda cat: {"list": [], "success": "1"}),
            ("GET", "order/realtime"): Route(self.realtime, True, ALL, _listing),
            ("GET", "order/history"): Route(self.history, True, ALL, _listing),
            ("GET", "position/list"): Route(self.positions, True, DERIVATIVES, _listing),
            ("POST", "position/trading-stop"): Route(self._empty(c.exchange.trading_stop), True, DERIVATIVES),
            ("POST", "position/set-leverage"): Route(self._empty(c.exchange.set_leverage), True, ("linear", "inverse")),
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
        self.core.hub.publish_private(self.core.exchange.drain())
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

    def _symbol(self, p: dict, required: bool, alternatives: tuple[str, ...] = ()) -> None:
        sym = p.get("symbol")
        if sym in (None, ""):
            if required and not any(p.get(a) for a in alternatives):
                need = " or ".join(("symbol",) + alternatives)
                raise params_error(f"Params error: {need} is required")
            for a in alternatives:
                v = p.get(a)
                if v and v not in ("USDT", self.core.instrument.base_coin):
                    raise params_error(f"Params error: {a} {v!r} invalid")
            return
        if sym != self.core.instrument.symbol:
            raise params_error(f"params error: symbol invalid: {sym!r} (the simulator serves "
                               f"{self.core.instrument.symbol})")

    def _order_ref(self, action: Callable[[dict], Order]) -> Callable[[dict], dict]:
        def handler(p: dict) -> dict:
            self._symbol(p, True)
            o = action(p)
            return {"orderId": o.order_id, "orderLinkId": o.link_id}
        return handler

    def _empty(self, action: Callable[[dict], object]) -> Callable[[dict], dict]:
        def handler(p: dict) -> dict:
            self._symbol(p, True)
            action(p)
            return {}
        return handler

    # ------------------------------------------------------------------ market

    def time(self, p: dict) -> dict:
        ns = self.core.wall.now_ns()
        return {"timeSecond": str(ns // 1_000_000_000), "timeNano": str(ns)}

    def kline(self, p: dict) -> dict:
        self._symbol(p, True)
        interval = p.get("interval") or ""
        tape = self.core.tape
        tape.check_interval(interval)
        start = _opt_int(p, "start")
        end = _opt_int(p, "end")
        limit = _limit(p, 200, 1000)
        m = self.core.market
        rows = tape.kline_rows(interval, m.closed, m.forming, start, end, limit)
        inst = self.core.instrument
        fp, fq = inst.fmt_price, inst.fmt_qty
        return {"symbol": inst.symbol, "category": "linear",
                "list": [[str(r[0]), fp(r[1]), fp(r[2]), fp(r[3]), fp(r[4]), fq(r[5]), f"{r[6]:.4f}"] for r in rows]}

    def tickers(self, p: dict) -> dict:
        self._symbol(p, False)
        return {"category": "linear", "list": [self.core.market.ticker_rest()]}

    def orderbook(self, p: dict) -> dict:
        self._symbol(p, True)
        limit = _limit(p, 25, 1000)
        m = self.core.market
        bids, asks = m.levels(limit)
        now = m.clock.now_ms()
        u = self.core.feed.books[f"orderbook.1000.{m.inst.symbol}"].u
        return {"s": m.inst.symbol, "b": bids, "a": asks, "ts": now, "u": max(1, u), "seq": m.seq, "cts": now}

    def instruments(self, p: dict) -> dict:
        self._symbol(p, False)
        status = p.get("status")
        base = p.get("baseCoin")
        show = (not status or status == "Trading") and (not base or base == self.core.instrument.base_coin)
        info = instrument_info_with_faults(self.core.instrument.info(), self.core.faults.spec.instrument)
        return {"category": "linear", "list": [info] if show else [], "nextPageCursor": ""}

    def recent_trade(self, p: dict) -> dict:
        self._symbol(p, True)
        limit = _limit(p, 500, 1000)
        m = self.core.market
        trades = list(m.trades)[-limit:][::-1]
        return {"category": "linear", "list": [m.trade_rest(t) for t in trades]}

    # ------------------------------------------------------------------ trade and account

    def cancel_all(self, p: dict) -> dict:
        self._symbol(p, True, ("baseCoin", "settleCoin"))
        done = self.core.exchange.cancel_all(p)
        return {"list": [{"orderId": o.order_id, "orderLinkId": o.link_id} for o in done], "success": "1"}

    def realtime(self, p: dict) -> dict:
        self._symbol(p, True, ("baseCoin", "settleCoin"))
        ex = self.core.exchange
        items, cursor = _page(ex.open_orders(p), p, 20, 50)
        return {"category": "linear", "nextPageCursor": cursor, "list": [payloads.order_rest(o, ex) for o in items]}

    def positions(self, p: dict) -> dict:
        self._symbol(p, True, ("settleCoin",))
        ex = self.core.exchange
        rows = list(ex.positions.values())
        if not p.get("symbol"):
            rows = [r for r in rows if r.size]
        items, cursor = _page(rows, p, 20, 200)
        return {"category": "linear", "nextPageCursor": cursor, "list": [payloads.position_rest(r, ex) for r in items]}

    def switch_mode(self, p: dict) -> dict:
        self._symbol(p, True, ("coin",))
        self.core.exchange.switch_mode(p)
        return {}

    def wallet(self, p: dict) -> dict:
        acct = p.get("accountType")
        if acct != "UNIFIED":
            raise params_error(f"accountType only support UNIFIED, got {acct!r}")
        account = payloads.wallet_account(self.core.exchange)
        coins = [c.strip() for c in (p.get("coin") or "").split(",") if c.strip()]
        if coins and "USDT" not in coins:
            account["coin"] = []
        return {"list": [account]}

    def history(self, p: dict) -> dict:
        self._symbol(p, False, ("baseCoin", "settleCoin"))
        ex = self.core.exchange
        items, cursor = _page(ex.order_history(p), p, 20, 50)
        return {"category": "linear", "nextPageCursor": cursor, "list": [payloads.order_rest(o, ex) for o in items]}

    def fee_rate(self, p: dict) -> dict:
        self._symbol(p, False)
        fees = self.core.exchange.fees
        return {"list": [{"symbol": self.core.instrument.symbol, "takerFeeRate": payloads.money(fees.taker_rate),
                          "makerFeeRate": payloads.money(fees.maker_rate)}]}

    def account_info(self, p: dict) -> dict:
        return payloads.account_info(self.core.started_ms)

    def query_api(self, p: dict) -> dict:
        return payloads.api_key_info(self.core.creds.api_key, self.core.started_ms)

    def coin_info(self, p: dict) -> dict:
        coins = ["USDT", self.core.instrument.base_coin]
        wanted = p.get("coin") or ""
        return {"rows": [payloads.coin_info(c) for c in coins if not wanted or c == wanted]}

    def executions(self, p: dict) -> dict:
        self._symbol(p, False)
        ex = self.core.exchange
        items, cursor = _page(ex.executions(p), p, 50, 100)
        return {"category": "linear", "nextPageCursor": cursor,
                "list": [payloads.execution_rest(f, ex) for f in items]}

    def closed_pnl(self, p: dict) -> dict:
        self._symbol(p, False)
        ex = self.core.exchange
        items, cursor = _page(ex.closed_pnl(p), p, 50, 100)
        return {"category": "linear", "nextPageCursor": cursor, "list": [payloads.closed_pnl(c, ex) for c in items]}


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
