"""Strategy research: `optimize` and `walkforward` (docs/optimize.md).

space       the search space file: config key paths and their ranges
market      one candle file prepared as the backtest prepares it
cache       bounded, use-ordered caches of indicator rows and scorer unit rows
evaluate    one parameter set -> the backtest's performance figures, from cached stages
workers     long-lived worker processes that evaluate batches of parameter sets
storage     the study: in memory with a journal checkpoint, or in PostgreSQL
driver      the ask/evaluate/tell loop with Optuna
objectives  objective names, directions and the minimum-trades constraint
statistics  deflated Sharpe ratio, Monte Carlo of trade order, walk-forward efficiency
report      trials.csv, best-config.json, pareto.csv, plots and the terminal summary
walkforward rolling or anchored train/test folds
"""
