"""The error taxonomy of the Bybit client: what a failure means for the caller.

    BybitError(WhaleError)            .code (retCode or HTTP status, None for transport), .endpoint, .ret_msg
      RetryableError                  nothing happened (or it is safe to ask again): back off and retry
        RateLimitedError              10006 after the back-off budget, the local budget, HTTP 403/429
        UnreachableError              DNS failure, refused, silent host; names the host (.host)
        AbortedError                  the bot is stopping: a wait cut short, a query in flight abandoned
      RejectedError                   a definitive refusal: fix the request, do not resend it as is
        OrderNotPlacedError           an order whose answer was lost is confirmed NOT to exist
      OutcomeUnknownError             a POST that may have executed (.link_id); resolve by query
      AuthError                       keys, permissions, IP whitelist, clock: fatal configuration
      BadDataError                    an answer whose data cannot be right (a qtyStep of 0, a price
                                      of 0): not used; fatal at start-up, skipped later

`classify(code)` maps a retCode to its class; `error_for(code, endpoint, ret_msg, host)` builds the
error with a message that says what to check.
"""

from __future__ import annotations

from whale.bybit.quirks import AUTH_CODES, RATE_LIMIT_CODES, RETRYABLE_CODES
from whale.errors import EXIT_BAD_INPUT, WhaleError
from whale.logs import redact


class BybitError(WhaleError):
    def __init__(self, message: str, *, code: int | None = None, endpoint: str | None = None,
                 ret_msg: str | None = None, host: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.endpoint = endpoint
        self.ret_msg = ret_msg
        self.host = host


class RetryableError(BybitError):
    """Transient: the request did not take effect (or is idempotent); retrying later is safe."""


class RateLimitedError(RetryableError):
    """Over Bybit's or the local rate budget; `retry_after_s` is the wait the client knows of."""

    def __init__(self, message: str, *, retry_after_s: float | None = None, **kw) -> None:
        super().__init__(message, **kw)
        self.retry_after_s = retry_after_s


class UnreachableError(RetryableError):
    """The host could not be reached (DNS, refused, no answer). Fatal at start-up, retryable later."""


class AbortedError(RetryableError):
    """The bot is stopping: a wait was cut short, or a query still in flight was abandoned. Nothing
    was sent by this attempt (an order whose request was in flight is OutcomeUnknownError instead)."""


class RejectedError(BybitError):
    """Bybit answered and refused (parameters, balance, size, state). Do not resend unchanged."""


class BadDataError(BybitError):
    """Bybit answered, but with data that cannot be right (instrument rules of 0, a price of 0 or
    NaN). The data is never used; the message names the symbol, the field and the value."""


class OrderNotPlacedError(RejectedError):
    """An order/create whose answer was lost is confirmed absent: several `order/realtime` queries
    by its orderLinkId found nothing after the request's recv_window had expired. Placing it again
    needs a NEW orderLinkId."""

    def __init__(self, message: str, *, link_id: str, **kw) -> None:
        super().__init__(message, **kw)
        self.link_id = link_id


class OutcomeUnknownError(BybitError):
    """A state-changing request may or may not have executed (timeout, 5xx, dropped connection) and
    querying did not settle it. `link_id` names the order for a later reconciliation."""

    def __init__(self, message: str, *, link_id: str | None = None, **kw) -> None:
        super().__init__(message, **kw)
        self.link_id = link_id


class AuthError(BybitError):
    """Keys, permissions, IP whitelist or clock: nothing will work until the user fixes it (exit 2)."""

    exit_code = EXIT_BAD_INPUT


# retCodes and their classes: whale.bybit.quirks (data). Everything not listed and not 0 is a RejectedError.

_AUTH_HINTS = {
    10003: "the API key is not valid on {host}. Keys belong to one network: mainnet, testnet and demo-trading "
           "keys are different. Check `network` in config.json and BYBIT_API_KEY in .env",
    10004: "the request signature was refused: BYBIT_API_SECRET does not belong to BYBIT_API_KEY (check for "
           "extra spaces or a key of another network)",
    10005: "permission denied: the API key needs read-write permission for Contract (derivatives) orders and "
           "positions; create a key with those permissions on Bybit",
    10007: "authentication failed: check BYBIT_API_KEY and BYBIT_API_SECRET",
    10009: "this IP address is banned by Bybit",
    10010: "the API key is bound to IP addresses and this machine's IP is not one of them: add it to the key's "
           "IP whitelist on Bybit (or use a key without IP restriction)",
    10002: "the request timestamp is outside recv_window even after measuring the server time: the system "
           "clock is wrong or drifting. Enable NTP time sync (e.g. `timedatectl set-ntp true`)",
}


def classify(code: int) -> type[BybitError] | None:
    """The error class of a non-zero retCode (None for 0)."""
    if code == 0:
        return None
    if code in AUTH_CODES:
        return AuthError
    if code in RATE_LIMIT_CODES:
        return RateLimitedError
    if code in RETRYABLE_CODES:
        return RetryableError
    return RejectedError


def error_for(code: int, endpoint: str, ret_msg: str, host: str | None = None,
              cls: type[BybitError] | None = None) -> BybitError:
    """The error for a retCode answer, with a message naming the endpoint and what to check. Bybit's
    message is redacted: a 10004 answer echoes the signed string, API key included."""
    cls = cls or classify(code) or RejectedError
    ret_msg = redact(ret_msg or "")
    where = f"Bybit {endpoint}" + (f" on {host}" if host else "")
    text = f"{where}: {ret_msg or 'error'} (retCode {code})"
    if cls is AuthError or code in _AUTH_HINTS:
        text += ": " + _AUTH_HINTS.get(code, "check the API key").format(host=host or "this host")
    elif code == 10017:
        text += ": the REST URL does not serve Bybit V5 (check `network` / `rest_url`)"
    return cls(text, code=code, endpoint=endpoint, ret_msg=ret_msg, host=host)
