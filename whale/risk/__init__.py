"""Risk: sizing, the signal validator and the safety monitor (pure; no I/O)."""
