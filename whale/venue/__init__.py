"""The venue boundary: what the bot knows of an exchange, and nothing Bybit-specific.

- `types`      Side, Fill, VenuePosition, exit / funding events, an order's look-up
- `errors`     the venue-neutral failures (temporary, rate-limited, rejected, outcome-unknown, auth)
- `protocols`  Execution (orders, positions, equity; many symbols, one account) and MarketData
               (streams and REST reads for many symbols)
- `registry`   which package serves which `exchange.name`; the only way `whale.bot` reaches a venue
- `paper`      the paper Execution: local fills through the fill model, any venue's market data

A venue package (today `whale.bybit`) translates its wire protocol into these types and errors;
docs/architecture.md#the-venue-boundary says what a second exchange needs.
"""
