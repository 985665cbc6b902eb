"""Sub-commands of whalebot.py, one module each (see whale.cli)."""
