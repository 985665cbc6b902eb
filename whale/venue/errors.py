"""What a venue's failure means for the PositionManager and the loop, whatever the exchange.

    VenueError(WhaleError)         the base: every failure of a venue call is one
      TemporaryError               nothing happened (or it is safe to ask again): try again later
        RateLimitedError           over the venue's rate limit; `retry_after_s` says when to try again
      RejectedError                a definitive refusal: do not send the same request again
      OutcomeUnknownError          an order may or may not have executed; `link_id` names it, and it is
                                   resolved by looking it up, never by sending it again
      AuthError                    keys, permissions, clock: nothing works until the user fixes it (exit 2)

Each venue package translates its own errors into these with `raise ... from exc`, so the venue's
error (its code, endpoint, host) stays the cause. The PositionManager and the loop handle each
class deliberately: a temporary error never stops the bot.
"""

from __future__ import annotations

from whale.errors import EXIT_BAD_INPUT, WhaleError


class VenueError(WhaleError):
    """A venue failure; the message says what and why."""


class TemporaryError(VenueError):
    """The request did not take effect (or querying again is harmless): retry later."""


class RateLimitedError(TemporaryError):
    """Over the venue's rate limit. `retry_after_s`: when the venue will accept the call again (None:
    unknown)."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RejectedError(VenueError):
    """The venue refused the request for good (parameters, balance, no such position): resending it
    unchanged would be refused again."""


class OutcomeUnknownError(VenueError):
    """An order was sent and whether it executed is not known (a lost answer, a fill that cannot be
    read yet). `link_id` is its client order id: look it up later; never send it again."""

    def __init__(self, message: str, *, link_id: str) -> None:
        super().__init__(message)
        self.link_id = link_id


class AuthError(VenueError):
    """The keys, their permissions, the IP whitelist or the clock: fatal until the user fixes it."""

    exit_code = EXIT_BAD_INPUT


__all__ = ["AuthError", "OutcomeUnknownError", "RateLimitedError", "RejectedError", "TemporaryError", "VenueError"]
