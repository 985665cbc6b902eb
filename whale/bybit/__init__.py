"""Bybit V5 wire layer: endpoints per network, the error taxonomy, a local rate budget, the REST
client (pybit underneath, with every workaround in one class), the L2 order book, the shared market
state, the WebSocket manager and the market feed. See docs/bybit.md.

Modules (one job each):

- `endpoints`    the three URLs of a network (`endpoints_for(cfg)`), `host_of(url)`
- `errors`       `BybitError` and its subclasses, `classify(code)`
- `clock`        the injected clock (monotonic, sleep, wall ms)
- `ratelimit`    `RateBudget`: per-endpoint and per-IP budgets below Bybit's limits
- `models`       typed records (`PositionInfo`, `WalletInfo`, `Execution`, ...) and their parsers
- `rest`         `BybitRest`: every REST call the bot makes, typed results, unknown-outcome resolution
- `book`         `OrderBook` (pure) and `BookSnapshot`
- `market_state` `MarketState`: thread-safe store written by the WebSocket threads, read by the loop
- `ws`           `BybitWebSocketManager`: public + private streams, reconnects, staleness
- `feed`         `MarketFeed`: streams first, REST fallback, gap fill
- `startup`      `connect_with_deadline`: one deadline over DNS, connect and the first data
"""
