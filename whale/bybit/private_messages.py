"""The shape of private-stream messages (`order`, `execution`, `position`, `wallet`), checked where
they enter, on the WebSocket thread, before anything reads them.

A message can be valid JSON and still the wrong shape: `"data": [null]`, `data` an object, an item
without the fields the bot reads, an amount that is not a number. `check_items(topic, data)` keeps
the items that are right and describes each one that is not, so one bad item costs only itself:
the valid items of the same message still go through, and nothing downstream ever sees a `None`
where it expects an object, or a string where it expects a number.

Per topic, the fields the bot reads (or may read) are checked: required ones must be there, and
every field present must have the right type. Numbers come as strings (Bybit's convention) or
JSON numbers and must parse as a finite Decimal; `""` means "unset" where a field is optional.
Quantities must not be negative, and a trade's price must be above 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

TOPICS = ("order", "execution", "position", "wallet")


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # "str" | "number" | "int" | "bool" | "coins"
    required: bool = False
    sign: str = ""  # "" any, ">=0" not negative, ">0" above zero


def _f(spec: str, kind: str, sign: str = "") -> Field:
    """`name` or `name!` (required)."""
    return Field(spec.rstrip("!"), kind, spec.endswith("!"), sign)


_EXECUTION = (
    _f("symbol!", "str"), _f("execType!", "str"), _f("execTime!", "int"), _f("execId", "str"), _f("orderId", "str"),
    _f("orderLinkId", "str"), _f("side", "str"), _f("stopOrderType", "str"), _f("createType", "str"),
    _f("execQty", "number", ">=0"), _f("execPrice", "number", ">=0"), _f("execFee", "number"),
    _f("closedSize", "number", ">=0"), _f("leavesQty", "number", ">=0"),
)
# What the execution types the bot acts on need besides the fields above.
_EXECUTION_BY_TYPE = {
    "Trade": (_f("orderId!", "str"), _f("side!", "str"), _f("execQty!", "number", ">=0"),
              _f("execPrice!", "number", ">0"), _f("execFee!", "number")),
    "Funding": (_f("execFee!", "number"),),
}
_ORDER = (
    _f("symbol!", "str"), _f("orderId!", "str"), _f("orderStatus!", "str"), _f("orderLinkId", "str"), _f("side", "str"),
    _f("orderType", "str"), _f("stopOrderType", "str"), _f("cancelType", "str"), _f("rejectReason", "str"),
    _f("positionIdx", "int"), _f("qty", "number", ">=0"), _f("price", "number", ">=0"),
    _f("leavesQty", "number", ">=0"), _f("cumExecQty", "number", ">=0"), _f("cumExecValue", "number", ">=0"),
    _f("cumExecFee", "number"), _f("avgPrice", "number", ">=0"), _f("takeProfit", "number", ">=0"),
    _f("stopLoss", "number", ">=0"), _f("triggerPrice", "number", ">=0"), _f("reduceOnly", "bool"),
)
_POSITION = (
    _f("symbol!", "str"), _f("size!", "number", ">=0"), _f("side", "str"), _f("positionIdx", "int"),
    _f("entryPrice", "number", ">=0"), _f("avgPrice", "number", ">=0"), _f("stopLoss", "number", ">=0"),
    _f("takeProfit", "number", ">=0"), _f("trailingStop", "number", ">=0"), _f("leverage", "number", ">=0"),
    _f("markPrice", "number", ">=0"), _f("liqPrice", "number", ">=0"), _f("unrealisedPnl", "number"),
    _f("positionValue", "number", ">=0"), _f("createdTime", "int"), _f("updatedTime", "int"),
)
_WALLET = (
    _f("accountType!", "str"), _f("totalEquity", "number"), _f("totalWalletBalance", "number"),
    _f("totalAvailableBalance", "number"), _f("totalPerpUPL", "number"), _f("totalMarginBalance", "number"),
    _f("coin", "coins"),
)
_COIN = (_f("coin!", "str"), _f("walletBalance", "number"), _f("equity", "number"), _f("usdValue", "number"))
SCHEMAS: dict[str, tuple[Field, ...]] = {"execution": _EXECUTION, "order": _ORDER, "position": _POSITION,
                                        "wallet": _WALLET}


def check_items(topic: str, data: Any) -> tuple[list[dict], list[str]]:
    """(the items of `data` that have the right shape for `topic`, one problem per bad item or for
    the whole message). `topic` is the base topic (`execution`, not `execution.linear`)."""
    schema = SCHEMAS.get(topic)
    if schema is None:
        return [], [f"unexpected private topic {topic!r}"]
    if not isinstance(data, list):
        return [], [f"data is {_kind(data)}, not a list of objects"]
    good: list[dict] = []
    problems: list[str] = []
    for i, item in enumerate(data):
        problem = _item_problem(topic, schema, item)
        if problem is None:
            good.append(item)
        else:
            problems.append(f"data[{i}] {problem}")
    return good, problems


def _item_problem(topic: str, schema: tuple[Field, ...], item: Any) -> str | None:
    if not isinstance(item, dict):
        return f"is {_kind(item)}, not an object"
    fields = schema
    if topic == "execution" and isinstance(item.get("execType"), str):
        fields = fields + _EXECUTION_BY_TYPE.get(item["execType"], ())
    for f in fields:
        problem = _field_problem(f, item.get(f.name), f.name in item)
        if problem is not None:
            return f"{f.name} {problem}"
    return None


def _field_problem(f: Field, value: Any, present: bool) -> str | None:
    missing = not present or value is None or (value == "" and f.kind != "str")
    if missing:
        return "is missing" if f.required else None
    if f.kind == "str":
        if not isinstance(value, str):
            return f"is {_kind(value)}, not a string"
        return "is empty" if f.required and not value else None
    if f.kind == "bool":
        return None if isinstance(value, bool) else f"is {_kind(value)}, not true or false"
    if f.kind == "coins":
        if not isinstance(value, list):
            return f"is {_kind(value)}, not a list of objects"
        for j, coin in enumerate(value):
            problem = _item_problem("coin", _COIN, coin)
            if problem is not None:
                return f"[{j}] {problem}"
        return None
    number = _number(value)
    if number is None:
        shown = repr(value) if isinstance(value, str) else _kind(value)
        return f"is {shown}, not a number"
    if f.kind == "int" and number != number.to_integral_value():
        return f"is {value!r}, not a whole number"
    if (f.sign == ">=0" and number < 0) or (f.sign == ">0" and number <= 0):
        return f"is {value!r}, {'negative' if number < 0 else 'not above 0'}"
    return None


def _number(value: Any) -> Decimal | None:
    """A finite Decimal from a JSON string or number; None for anything else (true, "abc", "NaN")."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
