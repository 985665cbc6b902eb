"""Bybit-shaped serialisation of the engine's records: REST `result` items and private WebSocket
`data` items, with Bybit's field names and types (numbers as strings except the few Bybit sends
as JSON numbers or booleans; see tests/fixtures/bybit)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from whale.sim.records import ClosedPnl, Fill, Order, Position

if TYPE_CHECKING:
    from whale.sim.account import Account
    from whale.sim.matching import Exchange


def money(d: Decimal | float) -> str:
    """A USDT amount: up to 8 decimals, no trailing zeros ("0" for zero)."""
    text = f"{Decimal(d).quantize(Decimal('0.00000001')):f}" if not isinstance(d, float) else f"{d:.8f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def envelope(result, time_ms: int, code: int = 0, msg: str = "OK") -> dict:
    return {"retCode": code, "retMsg": msg, "result": result if result is not None else {}, "retExtInfo": {},
            "time": time_ms}


# ---------------------------------------------------------------- orders

def order_rest(o: Order, ex: Exchange) -> dict:
    inst = ex.instrument
    conditional = o.is_conditional
    return {
        "orderId": o.order_id, "orderLinkId": o.link_id, "blockTradeId": "", "symbol": ex.symbol,
        "price": inst.fmt_price(o.price), "qty": inst.fmt_qty(o.qty), "side": o.side, "isLeverage": "",
        "positionIdx": o.position_idx, "orderStatus": o.status, "createType": o.create_type,
        "cancelType": o.cancel_type, "rejectReason": o.reject_reason,
        "avgPrice": inst.fmt_price(o.avg_price) if o.cum_qty else "0",
        "leavesQty": inst.fmt_qty(o.leaves), "leavesValue": money(o.leaves * o.price),
        "cumExecQty": inst.fmt_qty(o.cum_qty), "cumExecValue": money(o.cum_value), "cumExecFee": money(o.cum_fee),
        "timeInForce": o.tif, "orderType": o.order_type, "stopOrderType": o.stop_order_type, "orderIv": "",
        "triggerPrice": inst.fmt_price(o.trigger_price), "takeProfit": inst.fmt_price(o.take_profit),
        "stopLoss": inst.fmt_price(o.stop_loss), "tpTriggerBy": "LastPrice" if o.take_profit else "",
        "slTriggerBy": "LastPrice" if o.stop_loss else "", "triggerDirection": o.trigger_direction,
        "triggerBy": "LastPrice" if conditional else "UNKNOWN", "lastPriceOnCreated": o.last_price_on_created,
        "reduceOnly": o.reduce_only, "closeOnTrigger": o.close_on_trigger, "smpType": "None", "smpGroup": 0,
        "smpOrderId": "", "tpslMode": "Full" if (o.take_profit or o.stop_loss or o.is_tpsl) else "",
        "tpLimitPrice": "", "slLimitPrice": "", "placeType": "", "createdTime": str(o.created),
        "updatedTime": str(o.updated), "cumFeeDetail": {"USDT": money(o.cum_fee)} if o.cum_fee else {},
    }


def order_ws(o: Order, ex: Exchange) -> dict:
    d = order_rest(o, ex)
    d.update(category="linear", closedPnl=money(o.closed_pnl), feeCurrency="", rpiTakerAccess=False,
             rpiMatchedQty="0")
    return d


# ---------------------------------------------------------------- positions

def _position_common(p: Position, ex: Exchange) -> dict:
    inst = ex.instrument
    flat = not p.size
    avg = p.avg
    taker = Decimal(repr(ex.fees.taker_rate))
    if flat:
        break_even = "0"
    else:
        be = avg * (1 + taker) / (1 - taker) if p.side > 0 else avg * (1 - taker) / (1 + taker)
        break_even = inst.fmt_price(be)
    im = ex.position_im(p)
    mm = ex.position_mm(p)
    return {
        "positionIdx": p.idx, "riskId": 1, "riskLimitValue": "2000000", "symbol": ex.symbol, "side": p.side_name,
        "size": inst.fmt_qty(p.size), "positionValue": money(p.entry_value), "tradeMode": 0,
        "positionStatus": "Normal", "autoAddMargin": 0, "adlRankIndicator": 0 if flat else 2,
        "leverage": plain(p.leverage), "breakEvenPrice": break_even, "positionBalance": money(im),
        "markPrice": inst.fmt_price(ex.last_price), "liqPrice": "", "bustPrice": "", "positionMM": money(mm),
        "positionMMByMp": money(mm), "positionIM": money(im), "positionIMByMp": money(im), "tpslMode": "Full",
        "takeProfit": inst.fmt_price(p.take_profit), "stopLoss": inst.fmt_price(p.stop_loss),
        "trailingStop": inst.fmt_price(p.trailing), "unrealisedPnl": money(ex.unrealised(p)),
        "curRealisedPnl": money(p.cur_realised), "cumRealisedPnl": money(p.cum_realised), "seq": p.seq,
        "isReduceOnly": False, "leverageSysUpdatedTime": "", "sessionAvgPrice": "",
        "createdTime": str(p.created), "updatedTime": str(p.updated),
    }


def position_rest(p: Position, ex: Exchange) -> dict:
    d = _position_common(p, ex)
    d["avgPrice"] = ex.instrument.fmt_price(p.avg) if p.size else "0"
    d["mmrSysUpdateTime"] = ""  # sic: the REST docs spell it without the "d"
    return d


def position_ws(p: Position, ex: Exchange) -> dict:
    d = _position_common(p, ex)
    d["entryPrice"] = ex.instrument.fmt_price(p.avg) if p.size else "0"
    d["mmrSysUpdatedTime"] = ""
    d["category"] = "linear"
    return d


# ---------------------------------------------------------------- executions and closed PnL

def _execution_common(f: Fill, ex: Exchange) -> dict:
    inst = ex.instrument
    trade = f.exec_type == "Trade"
    return {
        "symbol": ex.symbol, "orderType": f.order_type, "underlyingPrice": "", "orderLinkId": f.link_id,
        "side": f.side, "indexPrice": inst.fmt_price(f.mark), "orderId": f.order_id,
        "stopOrderType": f.stop_order_type, "leavesQty": inst.fmt_qty(f.leaves), "execTime": str(f.time),
        "isMaker": f.is_maker, "execFee": money(f.fee), "feeRate": _rate(f.fee_rate), "execId": f.exec_id,
        "tradeIv": "", "blockTradeId": "", "markPrice": inst.fmt_price(f.mark), "execPrice": inst.fmt_price(f.price),
        "markIv": "", "orderQty": inst.fmt_qty(f.order_qty) if trade else "0",
        "orderPrice": inst.fmt_price(f.order_price) if trade else "0", "execValue": money(f.value),
        "execType": f.exec_type, "execQty": inst.fmt_qty(f.qty), "closedSize": inst.fmt_qty(f.closed_size),
        "seq": f.seq, "createType": f.create_type,
    }


def execution_rest(f: Fill, ex: Exchange) -> dict:
    d = _execution_common(f, ex)
    d.update(feeCurrency="", extraFees="")
    return d


def execution_ws(f: Fill, ex: Exchange) -> dict:
    d = _execution_common(f, ex)
    d.update(category="linear", isLeverage="0", marketUnit="", execPnl=money(f.exec_pnl), extraFees=[],
             feeCurrency="USDT")
    return d


def closed_pnl(c: ClosedPnl, ex: Exchange) -> dict:
    inst = ex.instrument
    size = c.closed_size
    return {
        "symbol": ex.symbol, "orderType": c.order_type, "leverage": plain(c.leverage), "updatedTime": str(c.time),
        "side": c.side, "orderId": c.order_id, "closedPnl": money(c.pnl),
        "avgEntryPrice": money(c.entry_value / size), "qty": inst.fmt_qty(c.qty),
        "cumEntryValue": money(c.entry_value), "createdTime": str(c.time), "orderPrice": inst.fmt_price(c.order_price),
        "closedSize": inst.fmt_qty(size), "avgExitPrice": money(c.exit_value / size), "execType": "Trade",
        "fillCount": "1", "cumExitValue": money(c.exit_value), "openFee": money(c.open_fee),
        "closeFee": money(c.close_fee),
    }


# ---------------------------------------------------------------- wallet

def wallet_account(ex: Account) -> dict:
    """The account's wallet: one USDT coin whose equity and margin cover every symbol."""
    m = ex.metrics()
    equity = m["equity"]
    im = m["pos_im"] + m["order_im"]
    mm = m["pos_mm"]
    im_rate = money(im / equity) if equity > 0 else "0"
    mm_rate = money(mm / equity) if equity > 0 else "0"
    coin = {
        "availableToBorrow": "", "bonus": "0", "accruedInterest": "0", "availableToWithdraw": money(m["available"]),
        "totalOrderIM": money(m["order_im"]), "equity": money(equity), "totalPositionMM": money(mm),
        "usdValue": money(equity), "spotHedgingQty": "0", "unrealisedPnl": money(m["upl"]), "collateralSwitch": True,
        "borrowAmount": "0", "totalPositionIM": money(m["pos_im"]), "walletBalance": money(ex.wallet),
        "cumRealisedPnl": money(ex.cum_realised), "locked": "0", "marginCollateral": True, "coin": "USDT",
        "spotBorrow": "0",
    }
    return {
        "totalEquity": money(equity), "accountIMRate": im_rate, "accountIMRateByMp": im_rate,
        "totalMarginBalance": money(equity), "totalInitialMargin": money(im), "totalInitialMarginByMp": money(im),
        "accountType": "UNIFIED", "totalAvailableBalance": money(m["available"]), "accountMMRate": mm_rate,
        "accountMMRateByMp": mm_rate, "totalPerpUPL": money(m["upl"]), "totalWalletBalance": money(ex.wallet),
        "accountLTV": "0", "totalMaintenanceMargin": money(mm), "totalMaintenanceMarginByMp": money(mm),
        "coin": [coin],
    }


def plain(d: Decimal) -> str:
    """A Decimal without trailing zeros: 10.00 -> "10"."""
    text = f"{d:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _rate(r: float) -> str:
    text = f"{r:.8f}".rstrip("0").rstrip(".")
    return text or "0"


# ---------------------------------------------------------------- account and key

SIM_UID = 10_000_001  # the simulated account's user id


def _iso(ms: int) -> str:
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def account_info(since_ms: int) -> dict:
    """/v5/account/info of a unified trading account 2.0 (pro) in cross margin."""
    return {"unifiedMarginStatus": 6, "marginMode": "REGULAR_MARGIN", "isMasterTrader": False,
            "spotHedgingStatus": "OFF", "updatedTime": str(since_ms), "dcpStatus": "OFF", "timeWindow": 0,
            "smpGroup": 0}


def api_key_info(api_key: str, since_ms: int) -> dict:
    """/v5/user/query-api: a read-write master key of a unified account, allowed to trade derivatives
    (what the simulator implements) and bound to the loopback address it serves on (so it does not
    expire: deadlineDay -2 and the epoch, as Bybit shows such a key)."""
    none: list[str] = []
    permissions = {"ContractTrade": ["Order", "Position"], "Spot": none, "Wallet": none, "Options": none,
                   "Derivatives": ["DerivativesTrade"], "Exchange": none, "Earn": none, "FiatP2P": none,
                   "FiatBitPay": none, "FiatConvertBroker": none, "BitCard": none, "ByXPost": none,
                   "Affiliate": none, "BlockTrade": none, "NFT": none, "CopyTrading": none}
    return {"id": "1", "note": "whalebot simulator", "apiKey": api_key, "readOnly": 0, "secret": "",
            "permissions": {k: list(v) for k, v in permissions.items()}, "ips": ["127.0.0.1"], "type": 1,
            "deadlineDay": -2, "expiredAt": "1970-01-01T00:00:00Z", "createdAt": _iso(since_ms), "uta": 1,
            "userID": SIM_UID, "inviterID": 0, "vipLevel": "No VIP", "mktMakerLevel": "0", "affiliateID": 0,
            "rsaPublicKey": "", "isMaster": True, "parentUid": "0", "kycLevel": "LEVEL_DEFAULT", "kycRegion": "",
            "unified": 0}


def coin_info(coin: str) -> dict:
    """/v5/asset/coin/query-info row: the simulator has no deposits or withdrawals, so no chains."""
    return {"name": coin, "coin": coin, "remainAmount": "0", "chains": []}
