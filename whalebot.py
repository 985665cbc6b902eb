#!/usr/bin/env python3
"""Whalebot: run `python whalebot.py --help` for the sub-commands."""

import sys

from whale.cli import main

if __name__ == "__main__":
    sys.exit(main())
