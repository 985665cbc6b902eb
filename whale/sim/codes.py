"""Bybit V5 retCodes the simulator answers with, and the error that carries one to the envelope."""

from __future__ import annotations

OK = 0
PARAMS = 10001
TIMESTAMP = 10002
API_KEY = 10003
SIGN = 10004
RATE_LIMIT = 10006
ORDER_NOT_FOUND = 110001
INSUFFICIENT_BALANCE = 110007
REDUCE_ONLY = 110017
POSITION_EXISTS = 110024
MODE_NOT_MODIFIED = 110025
OPEN_ORDERS_EXIST = 110028
LEVERAGE_NOT_MODIFIED = 110043
DUPLICATE_LINK_ID = 110072
TRIGGER_RISING = 110092
TRIGGER_FALLING = 110093
MIN_NOTIONAL = 110094
NOT_MODIFIED = 34040
NOT_FINAL_STATUS = 181017


class ExchangeError(Exception):
    """A business error: answered as HTTP 200 with this retCode and retMsg, as Bybit does."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def params_error(message: str) -> ExchangeError:
    return ExchangeError(PARAMS, message)
