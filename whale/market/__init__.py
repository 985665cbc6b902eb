"""Market data kept in memory: candles, intervals, higher-timeframe aggregation (pure, no I/O)."""
