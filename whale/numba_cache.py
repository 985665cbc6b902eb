"""Keys numba's on-disk cache by the source of every compiled module and what it imports.

numba checks only the stamp of the file that defines a kernel. A kernel whose callee, or a
constant it froze at compile time, lives in another file would load stale machine code after
that file changed (a `git pull`, an edit). Naming the cache directory after a hash of the
jitted modules and everything of ours they import makes any such change start a clean cache;
edits elsewhere (the live loop, the display) keep it warm.

Runs from `whale/__init__.py`, before numba is imported, so no I/O module is involved.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
CACHE_PARENT = PACKAGE / "__pycache__"
PREFIX = "numba-"

_IMPORT = re.compile(r"^\s*(?:from\s+(\.+[\w.]*|whale[\w.]*)\s+import\s+([\w ,()*]+)|import\s+(whale[\w.]*))",
                     re.MULTILINE)


def _module_file(package: Path, dotted: str) -> Path | None:
    """The file of `whale.x.y` inside the package, if there is one."""
    parts = dotted.split(".")[1:]
    base = package.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _absolute(package: Path, module: Path, relative: str) -> str:
    """`from ..x import` written in `module`, as a dotted name under `whale`."""
    dots = len(relative) - len(relative.lstrip("."))
    parts = module.parent.relative_to(package.parent).parts
    parts = parts[: len(parts) - (dots - 1)] if dots > 1 else parts
    rest = relative.lstrip(".")
    return ".".join(parts + ((rest,) if rest else ()))


def _imports(package: Path, module: Path, text: str) -> set[Path]:
    """Files of ours that `module` imports, including `from pkg import submodule`."""
    found: set[Path] = set()
    for match in _IMPORT.finditer(text):
        source, names, plain = match.groups()
        dotted = plain or (_absolute(package, module, source) if source.startswith(".") else source)
        target = _module_file(package, dotted)
        if target is not None:
            found.add(target)
        for name in (names or "").replace("(", " ").replace(")", " ").split(","):
            name = name.strip().split(" ")[0]
            sub = _module_file(package, f"{dotted}.{name}") if name and name != "*" else None
            if sub is not None:
                found.add(sub)
    return found


def source_digest(package: Path = PACKAGE) -> str:
    """Hash of every module that uses numba plus the closure of our modules they import."""
    texts = {path: path.read_text(encoding="utf-8") for path in package.rglob("*.py")}
    pending = [path for path, text in texts.items() if "numba" in text and path.name != Path(__file__).name]
    seen: set[Path] = set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        pending.extend(_imports(package, path, texts[path]) - seen)
    digest = hashlib.sha1()
    for path in sorted(seen):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(texts[path].encode())
    return digest.hexdigest()[:16]


def use_source_keyed_cache() -> None:
    """Point numba at the cache for these sources and drop caches of older sources.

    A user's own NUMBA_CACHE_DIR wins; an unwritable package directory leaves numba's default.
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    current = CACHE_PARENT / f"{PREFIX}{source_digest()}"
    try:
        current.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    for old in CACHE_PARENT.glob(f"{PREFIX}*"):
        if old != current:
            shutil.rmtree(old, ignore_errors=True)
    os.environ["NUMBA_CACHE_DIR"] = str(current)
