"""The venue boundary, read from the source: the bot reaches a venue only through the registry, the
registry names every exchange the config allows, and the core imports no I/O (docs/architecture.md)."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from whale.config.model import EXCHANGES
from whale.venue.registry import VENUES

ROOT = Path(__file__).resolve().parents[1]
WHALE = ROOT / "whale"

# The core: pure functions and small classes (principle 2).
CORE = ("whale/indicators", "whale/strategy", "whale/risk", "whale/fills.py", "whale/sorted_rows.py")
# What the core may import from the package: itself and plain values.
CORE_MAY_IMPORT = ("whale.indicators", "whale.strategy", "whale.risk", "whale.fills", "whale.sorted_rows",
                   "whale.market.candles", "whale.market.intervals", "whale.market.instruments", "whale.config.model")
# Modules that do I/O (network, files, processes, threads, the clock's sleep): never in the core.
IO_MODULES = ("socket", "ssl", "http", "urllib", "requests", "websocket", "pybit", "ccxt", "asyncio", "subprocess",
              "threading", "os", "pathlib", "io", "shutil", "tempfile", "sqlite3", "logging", "time", "signal",
              "select", "selectors", "fcntl")


def files_of(where: str) -> list[Path]:
    path = ROOT / where
    return [path] if path.suffix == ".py" else sorted(path.rglob("*.py"))


def imports_of(path: Path, package: str | None = None) -> list[tuple[str, int]]:
    """(module, line) of every import in a file, relative imports resolved (`package`: the file's
    package, by default from its place in the repository)."""
    tree = ast.parse(path.read_text(), str(path))
    if package is None:
        package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            out.append((base, node.lineno))
            out += [(f"{base}.{a.name}", node.lineno) for a in node.names]  # `from whale import bybit`
    return out


def test_the_registry_serves_every_exchange_the_config_allows():
    assert sorted(VENUES) == sorted(EXCHANGES)
    for name, module in VENUES.items():  # read, not imported: a venue's HTTP library probes sockets on import
        spec = importlib.util.find_spec(module)
        assert spec is not None and spec.origin, name
        tree = ast.parse(Path(spec.origin).read_text())
        assert "open_venue" in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}, name


def test_the_bot_imports_nothing_of_a_venue_package():
    """whale/bot, the PositionManager, the market state and the venue boundary reach a venue package only
    through whale.venue.registry (by the module name it holds as data)."""
    venue_packages = tuple(f"whale.{Path(m.replace('.', '/')).parts[1]}" for m in VENUES.values())
    assert venue_packages == ("whale.bybit",)
    found = []
    for where in ("whale/bot", "whale/positions.py", "whale/market", "whale/venue"):
        for path in files_of(where):
            for module, line in imports_of(path):
                if module == venue_packages[0] or module.startswith(venue_packages[0] + "."):
                    found.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert found == []


def test_the_scan_sees_an_import_of_the_venue_package(tmp_path):
    """The scan above would catch one (so it cannot pass by reading nothing)."""
    bad = tmp_path / "probe.py"
    bad.write_text("from whale.bybit.rest import BybitRest\nfrom ..bybit import ws\nimport whale.bybit.venue\n")
    got = [m for m, _ in imports_of(bad, "whale.bot")]
    assert {"whale.bybit.rest", "whale.bybit.ws", "whale.bybit.venue"} <= set(got)
    assert len(files_of("whale/bot")) >= 6


def test_the_core_imports_no_io():
    found = []
    for where in CORE:
        for path in files_of(where):
            for module, line in imports_of(path):
                top = module.split(".")[0]
                if top in IO_MODULES:
                    found.append(f"{path.relative_to(ROOT)}:{line} imports {module} (I/O)")
                if top == "whale" and not module.startswith(CORE_MAY_IMPORT):
                    found.append(f"{path.relative_to(ROOT)}:{line} imports {module} (not core)")
    assert found == []


@pytest.mark.net  # a subprocess
def test_importing_the_bot_loads_no_venue_package():
    """At run time too: loading the loop, the Trader and the Account imports nothing of whale.bybit
    (the registry imports it when the config names it)."""
    code = ("import sys, whale.bot.loop, whale.bot.trader, whale.bot.account; "
            "print(sorted(m for m in sys.modules if m.startswith('whale.bybit')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
