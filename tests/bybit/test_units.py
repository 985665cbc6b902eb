"""Pure parts: endpoints, the error table, the rate budget (fake clock), records and their parsers,
link ids, back-off."""

import random
import re
import threading
from decimal import Decimal

import pytest
from bybit_helpers import example_json

from whale.bybit.clock import FakeClock
from whale.bybit.endpoints import NETWORK_ENDPOINTS, custom_endpoints, endpoints_for, endpoints_for_network, host_of
from whale.bybit.errors import (
    AuthError,
    OrderNotPlacedError,
    RateLimitedError,
    RejectedError,
    RetryableError,
    UnreachableError,
    classify,
    error_for,
)
from whale.bybit.models import fmt_decimal, opt_dec, parse_closed_pnl, parse_execution, parse_position, parse_wallet
from whale.bybit.ratelimit import Limit, RateBudget
from whale.bybit.rest import check_link_id, new_link_id
from whale.bybit.ws import Backoff, tls_context
from whale.config.model import Config, replace_path
from whale.errors import BadInputError, WhaleError
from whale.logs import clear_secrets, register_secret

# ---------------------------------------------------------------- endpoints

def test_endpoints_per_network():
    m = endpoints_for(Config())
    assert (m.rest_url, m.public_ws_url, m.private_ws_url) == (
        "https://api.bybit.com", "wss://stream.bybit.com/v5/public/linear", "wss://stream.bybit.com/v5/private")
    t = endpoints_for_network("testnet")
    assert t.rest_url == "https://api-testnet.bybit.com" and t.public_ws_host == "stream-testnet.bybit.com"
    assert t.private_ws_url == "wss://stream-testnet.bybit.com/v5/private"
    d = endpoints_for(replace_path(Config(), "network", "demo-trading"))
    assert d.rest_url == "https://api-demo.bybit.com"
    assert d.public_ws_url == "wss://stream.bybit.com/v5/public/linear"  # demo has no public data: mainnet's
    assert d.private_ws_url == "wss://stream-demo.bybit.com/v5/private"
    assert set(NETWORK_ENDPOINTS) == {"mainnet", "testnet", "demo-trading"}


def test_custom_endpoints_and_hosts():
    cfg = replace_path(replace_path(replace_path(replace_path(Config(), "network", "custom"), "rest_url",
                                                 "http://127.0.0.1:8765/"), "public_ws_url",
                                    "ws://127.0.0.1:8765/v5/public/linear"), "private_ws_url",
                       "ws://127.0.0.1:8765/v5/private")
    e = endpoints_for(cfg)
    assert e.network == "custom" and e.rest_url == "http://127.0.0.1:8765" and e.rest_host == "127.0.0.1:8765"
    assert custom_endpoints("https://api.bybit.nl").public_ws_url == "wss://api.bybit.nl/v5/public/linear"
    assert host_of("wss://stream.bybit.com/v5/private") == "stream.bybit.com"
    with pytest.raises(BadInputError, match="rest_url"):
        endpoints_for_network("custom", "", "ws://x/v5/public/linear", "ws://x/v5/private")
    with pytest.raises(BadInputError, match="public_ws_url"):
        endpoints_for_network("custom", "http://x", "http://x/v5/public/linear", "ws://x/v5/private")
    with pytest.raises(BadInputError):
        endpoints_for_network("moonnet")


# ---------------------------------------------------------------- errors

def test_classify_table():
    assert classify(0) is None
    for code in (10003, 10004, 10005, 10010):
        assert classify(code) is AuthError
    assert classify(10006) is RateLimitedError and issubclass(RateLimitedError, RetryableError)
    for code in (10000, 10016):
        assert classify(code) is RetryableError
    for code in (10001, 110007, 110094, 110017, 110001, 110072, 999999):
        assert classify(code) is RejectedError
    assert issubclass(UnreachableError, RetryableError) and issubclass(OrderNotPlacedError, RejectedError)
    assert all(issubclass(c, WhaleError) for c in (AuthError, RejectedError, RetryableError))
    assert AuthError("x").exit_code == 2 and UnreachableError("x").exit_code == 1


def test_auth_messages_say_what_to_check_and_hide_the_key():
    clear_secrets()
    register_secret("MY-API-KEY-123456")
    try:
        e = error_for(10003, "/v5/position/list", "API key is invalid.", "api-demo.bybit.com")
        assert isinstance(e, AuthError) and e.code == 10003 and e.endpoint == "/v5/position/list"
        assert "network" in str(e) and "api-demo.bybit.com" in str(e)
        assert "IP" in str(error_for(10010, "/x", "unmatched ip"))
        assert "permission" in str(error_for(10005, "/x", "permission denied"))
        e = error_for(10004, "/x", "error sign! origin_string[1700000000000MY-API-KEY-1234565000{}]")
        assert "MY-API-KEY-123456" not in str(e) and "MY-API-KEY-123456" not in e.ret_msg
    finally:
        clear_secrets()


# ---------------------------------------------------------------- rate budget

def test_budget_sliding_window_never_exceeds_n_per_window():
    clock = FakeClock()
    budget = RateBudget({"order/create": Limit(8, 1.0)}, global_limit=Limit(500, 5.0), max_wait_s=60, clock=clock)
    times = []
    for _ in range(40):
        budget.acquire("/v5/order/create")
        times.append(clock.monotonic())
    assert times[7] == times[0]  # a burst of 8 goes at once
    for i in range(len(times) - 8):
        assert times[i + 8] - times[i] >= 1.0 - 1e-9  # never 9 inside one second
    assert times[-1] - times[0] == pytest.approx(4.0)  # 40 calls at 8/s: 5 windows
    assert budget.waited_s == pytest.approx(4.0)


def test_budget_global_limit_and_fifo_across_paths():
    clock = FakeClock()
    budget = RateBudget({}, global_limit=Limit(10, 5.0), max_wait_s=60, clock=clock)
    for path in ["market/kline", "market/tickers"] * 10:
        budget.acquire(path)
    assert clock.monotonic() - 1000.0 == pytest.approx(5.0)  # 20 calls, 10 per 5 s


def test_budget_refuses_a_wait_longer_than_max_and_honours_blocks():
    clock = FakeClock()
    budget = RateBudget({"order/create": Limit(2, 1.0)}, max_wait_s=0.5, clock=clock)
    budget.acquire("order/create")
    budget.acquire("order/create")
    with pytest.raises(RateLimitedError) as info:
        budget.acquire("order/create")
    assert info.value.retry_after_s == pytest.approx(1.0)
    assert clock.sleeps == []  # refused without sleeping
    budget.block("position/list", 0.3)
    assert budget.acquire("position/list") == pytest.approx(0.3)
    budget.block(None, 120)
    with pytest.raises(RateLimitedError, match="paused"):
        budget.acquire("market/kline")


def test_budget_is_thread_safe():
    budget = RateBudget({"x": Limit(1000, 1.0)}, global_limit=None, max_wait_s=5)
    threads = [threading.Thread(target=lambda: [budget.acquire("x") for _ in range(100)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(budget._windows["x"].grants) == 400


# ---------------------------------------------------------------- records

def test_fmt_decimal_refuses_floats():
    assert fmt_decimal(Decimal("0.010")) == "0.010"
    assert fmt_decimal(Decimal("1E+2")) == "100"
    assert fmt_decimal("94591.1") == "94591.1" and fmt_decimal(5) == "5" and fmt_decimal(Decimal(0)) == "0"
    with pytest.raises(TypeError):
        fmt_decimal(0.1 + 0.2)
    with pytest.raises(ValueError):
        fmt_decimal("abc")


def test_parsers_on_bybit_examples():
    pos = parse_position(example_json("rest_position_list.json")["result"]["list"][0])
    assert isinstance(pos.size, Decimal) and pos.symbol and pos.position_idx in (0, 1, 2)
    ws_item = dict(example_json("ws_private_position.json")["data"][0], size="0.5", side="Buy", entryPrice="28000.5")
    ws_item.pop("avgPrice", None)
    ws_pos = parse_position(ws_item)
    assert ws_pos.avg_price == Decimal("28000.5") and ws_pos.side == "Buy"  # the WebSocket's entryPrice
    ex = parse_execution(example_json("rest_execution_list.json")["result"]["list"][0])
    assert ex.exec_id and isinstance(ex.price, Decimal) and isinstance(ex.exec_time, int)
    w = parse_wallet(example_json("rest_account_wallet_balance.json")["result"]["list"][0])
    assert w.total_equity > 0 and w.coins and all(isinstance(v, Decimal) for v in w.coins.values())
    c = parse_closed_pnl(example_json("rest_position_closed_pnl.json")["result"]["list"][0])
    assert isinstance(c.closed_pnl, Decimal) and (c.open_fee is None or isinstance(c.open_fee, Decimal))
    assert opt_dec("0.00") is None and opt_dec("") is None and opt_dec("12.5") == Decimal("12.5")
    flat = parse_position({"symbol": "BTCUSDT", "side": "", "size": "0", "avgPrice": "0", "stopLoss": "0.00",
                           "takeProfit": "", "trailingStop": "0", "positionIdx": 0, "unrealisedPnl": ""})
    assert flat.side is None and flat.avg_price is None and flat.stop_loss is None and not flat.is_open


# ---------------------------------------------------------------- link ids and back-off

def test_link_ids_are_valid_and_unique():
    ids = {new_link_id("entry") for _ in range(5000)}
    assert len(ids) == 5000
    for i in list(ids)[:50] + [new_link_id("a very long purpose name!!")]:
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,36}", i) and i.startswith("wb-")
    with pytest.raises(ValueError):
        check_link_id("x" * 37)
    with pytest.raises(ValueError):
        check_link_id("has space")


def test_backoff_schedule_doubles_with_jitter_and_caps():
    b = Backoff(0.5, 30.0, 2.0, 0.25, rng=random.Random(3))
    delays = [b.next() for _ in range(10)]
    bases = [0.5, 1, 2, 4, 8, 16, 30, 30, 30, 30]
    for d, base in zip(delays, bases, strict=True):
        assert base * 0.75 <= d <= base * 1.25
    b.reset()
    assert b.next() <= 0.625


def test_tls_is_verified():
    import ssl
    ctx = tls_context()
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
