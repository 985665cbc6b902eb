"""The repository stands on its own: no tracked file points outside it.

A user's clone has nothing beside it, so nothing may read, cite or resolve a path out of the
repository: no sibling folder of shared material, no absolute path of a developer's machine, no
`parents[N]` that climbs above the repository root. CI clones the repository with that sibling
folder present, so only this test can catch such a dependency there.

The patterns are assembled from pieces so that this file does not match itself.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.paths import REPO_ROOT

SIBLING = "sha" + "red"  # the folder of shared material that lives beside the repository
MACHINE_DIRS = ("wo" + "rk", "ro" + "ot", "ho" + "me", "Us" + "ers", "mn" + "t", "tm" + "p")  # /x/... on a machine
TEXT_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\.\./" + SIBLING + r"\b"), "a path to the shared folder beside the repository"),
    (re.compile(r"\b" + SIBLING + r"/(data|bybit|design|reference|hooks)\b"), "the shared folder's contents"),
    (re.compile(r"[\"']" + SIBLING + r"[\"']"), "the shared folder as a path component"),
    (re.compile(r"(?<![\w.])/(" + "|".join(MACHINE_DIRS) + r")/"), "an absolute path of a machine"),
    (re.compile(r"(?<![\w\\/])[A-Za-z]:[\\/][A-Za-z]"), "a Windows drive path"),
)
PARENTS = re.compile(r"\.parents\[(\d+)\]")
PARENT = re.compile(r"\.parent(?!s)\b")
ROOT_PARENT = re.compile(r"\b\w*(ROOT|REPO)\w*\.parent(?!s)\b")
DOTDOT = re.compile(r"[\"']\.\.(/|[\"'])")


def text_findings(rel: str, text: str) -> list[str]:
    """`rel:line: why` for every line that mentions a place outside the repository."""
    out = []
    for no, line in enumerate(text.splitlines(), 1):
        for rule, why in TEXT_RULES:
            if rule.search(line):
                out.append(f"{rel}:{no}: {why}: {line.strip()}")
    return out


def path_findings(rel: str, text: str) -> list[str]:
    """`rel:line: why` for every Python line that resolves a path above the repository root: a
    file at depth d (tests/sim/x.py has d = 3) reaches the root at `Path(__file__).parents[d - 1]`,
    or after d `.parent` steps."""
    depth = len(Path(rel).parts)
    out = []
    for no, line in enumerate(text.splitlines(), 1):
        where = f"{rel}:{no}: "
        if "__file__" in line:
            climbs = [int(n) for n in PARENTS.findall(line)]
            if any(n > depth - 1 for n in climbs):
                out.append(where + f"parents[{max(climbs)}] leaves the repository: {line.strip()}")
            steps = len(PARENT.findall(line))
            if steps > depth:
                out.append(where + f"{steps} x .parent leaves the repository: {line.strip()}")
        if ROOT_PARENT.search(line):
            out.append(where + f"the parent of the repository root: {line.strip()}")
        if DOTDOT.search(line):
            out.append(where + f"a relative path upwards: {line.strip()}")
    return out


def tracked_files() -> list[str]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed: cannot list the tracked files")
    proc = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, timeout=60)
    if proc.returncode != 0:
        pytest.skip(f"not a git checkout ({proc.stderr.decode(errors='replace').strip()})")
    return [p for p in proc.stdout.decode().split("\0") if p]


def read_text(path: Path) -> str | None:
    """The file's text, or None for a binary file (the gzip candles)."""
    raw = path.read_bytes()
    if b"\0" in raw:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


@pytest.mark.net  # runs `git ls-files` in a subprocess
def test_no_tracked_file_points_outside_the_repository():
    files = tracked_files()
    assert "whalebot.py" in files and len(files) > 100
    problems = []
    scanned = 0
    for rel in files:
        path = REPO_ROOT / rel
        if not path.is_file():  # deleted in the work tree, not yet committed
            continue
        text = read_text(path)
        if text is None:
            continue
        scanned += 1
        problems += text_findings(rel, text)
        if rel.endswith(".py"):
            problems += path_findings(rel, text)
    assert scanned > 100
    assert not problems, "tracked files point outside the repository:\n" + "\n".join(problems)


@pytest.mark.net  # runs `git ls-files` in a subprocess
def test_the_data_and_fixtures_the_tests_read_are_tracked():
    files = set(tracked_files())
    for name in ("BTCUSDT-PERP_1m", "ETHUSDT-PERP_1m", "BTCUSDT_5m", "ETHUSDT_5m", "BTCUSDT_1h", "ETHUSDT_1h"):
        assert f"data/{name}.csv.gz" in files
    for rel in ("data/README.md", "tests/fixtures/bybit/README.md", "tests/fixtures/bybit/rest_order_create.json"):
        assert rel in files


@pytest.mark.parametrize("line", [
    "DATA = HERE / '" + SIBLING + "' / 'data'",
    "see ../" + SIBLING + "/bybit/examples",
    "copied from " + SIBLING + "/data/BTCUSDT_1h.csv.gz",
    'DATA = Path("/' + "work/" + SIBLING + '/data")',
    "log to /" + "home/alice/whalebot.log",
    "a user's /" + "Users/bob/config.json",
    "C:" + "\\Users\\bob\\config.json",
])
def test_text_rules_catch_paths_outside(line):
    assert text_findings("docs/x.md", f"fine\n{line}\n") != []


# Written with placeholders, filled in at run time, so these examples do not trip the scan above:
# {f} is the module's file name variable, {up} one step to the parent, {ups} the parents sequence.
SPELL = {"f": "__" + "file__", "up": ".par" + "ent", "ups": ".par" + "ents", "dd": "." * 2}


@pytest.mark.parametrize("rel,line,bad", [
    ("tests/sim/x.py", "X = Path({f}).resolve(){ups}[3] / 'x'", True),
    ("tests/sim/x.py", "X = Path({f}).resolve(){ups}[2] / 'data'", False),
    ("tests/x.py", "X = Path({f}).resolve(){ups}[2] / 'x'", True),
    ("bench/x.py", "ROOT = Path({f}).resolve(){ups}[1]", False),
    ("whale/commands/demo.py", "P = Path({f}).resolve(){ups}[2] / 'data'", False),
    ("tests/x.py", "REPO = Path({f}).resolve(){up}{up}{up}", True),
    ("tests/x.py", "REPO = Path({f}).resolve(){up}{up}", False),
    ("bench/x.py", "DATA = ROOT{up} / 'x' / 'data'", True),
    ("tests/x.py", "DATA = Path({f}){up} / '{dd}' / 'x'", True),
])
def test_path_rules_catch_climbing_out_of_the_repository(rel, line, bad):
    assert (path_findings(rel, line.format(**SPELL)) != []) == bad


def test_legitimate_lines_pass():
    ok = ("from whale.commands._" + SIBLING + " import load_cli_config\n"
          "the " + SIBLING + " fill model (whale.fills)\n"
          "#!/usr/bin/env python3\n"
          "os.listdir('/proc/self/fd')\n"
          "config_path='/etc/wb/live.json'\n"
          "LINE = re.compile(r'\\d\\d:\\d\\d:\\d\\d')\n"
          "url = 'https://api.bybit.com/v5/market/time'\n")
    assert text_findings("x.py", ok) == []
