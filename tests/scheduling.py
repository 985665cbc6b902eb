"""The order the test modules run in, for the README's parallel test command
(`-n 3 --dist loadfile --no-loadscope-reorder`: whole modules handed to three workers in this order).

The longest modules go first, so that none of them starts near the end and leaves one worker running
it alone while the other idles (longest first is the classic rule for packing jobs on machines). The
modules that start servers or processes follow (they mostly wait on real time), and the core's quick
CPU-bound modules come last, where they fill whatever gap is left. Without xdist only the order changes.
"""

from __future__ import annotations

import pytest

# The modules that took longest in a full run (`--durations=0`, summed per module), longest first. A module
# missing here only runs later; nothing else depends on this list.
LONGEST_FIRST = (
    "tests/live/test_soak.py",
    "tests/live/test_processes.py",
    "tests/test_book_parity.py",
    "tests/scenarios/test_scenarios.py",
    "tests/live/test_live_bot.py",
    "tests/optimize/test_postgres.py",
    "tests/live/test_first_run.py",
    "tests/live/test_reliability_loop.py",
    "tests/optimize/test_resume.py",
    "tests/live/test_determinism.py",
    "tests/optimize/test_cli.py",
    "tests/live/test_live_multi_symbol.py",
    "tests/live/test_reliability_processes.py",
    "tests/test_backtest_book.py",
)


def longest_first(items: list[pytest.Item]) -> None:
    """Sort `items` in place by module: the listed modules in their order, then the other modules that
    have a `net` test, then the rest; each module's tests stay together and in their own order."""
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    net_modules = {module(item) for item in items if item.get_closest_marker("net") is not None}

    def key(item: pytest.Item) -> tuple[int, int]:
        path = module(item)
        return rank.get(path, len(rank)), 0 if path in net_modules else 1

    items.sort(key=key)  # stable: the order within a rank is the collection order


def module(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]
