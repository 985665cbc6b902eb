"""The simulator's fixed defaults, importable without loading the simulator itself."""

HOST = "127.0.0.1"
DEFAULT_PORT = 8765
# Obviously fake and documented as not secret: anyone may use them against a local simulator.
DEFAULT_API_KEY = "WHALEBOT-SIM-KEY"
DEFAULT_API_SECRET = "WHALEBOT-SIM-SECRET-NOT-A-SECRET"
