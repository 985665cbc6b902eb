"""The live loop and what it needs around it (start-up, signals file, demo)."""
