"""The numba cache directory follows the sources a compiled kernel depends on, and only those."""
from __future__ import annotations

import os
from pathlib import Path

from whale import numba_cache
from whale.numba_cache import source_digest


def _package(root: Path) -> Path:
    pkg = root / "whale"
    (pkg / "core").mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""pkg"""\n')
    (pkg / "core" / "__init__.py").write_text("")
    (pkg / "core" / "kernel.py").write_text(
        "from numba import njit\nfrom .ids import SCALE\nfrom whale.core import helpers\n"
        "from .. import constants\n\n@njit(cache=True)\ndef f(x):\n    return x * SCALE\n")
    (pkg / "core" / "ids.py").write_text("SCALE = 2.0\n")
    (pkg / "core" / "helpers.py").write_text("def g():\n    return 1\n")
    (pkg / "constants.py").write_text("LIMIT = 5\n")
    (pkg / "loop.py").write_text("import time\nfrom whale.core.kernel import f\n")
    return pkg


def test_digest_changes_with_what_a_kernel_imports_and_not_with_the_rest(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    first = source_digest(pkg)
    assert source_digest(pkg) == first

    (pkg / "loop.py").write_text("import time\nfrom whale.core.kernel import f\nprint('edited')\n")
    assert source_digest(pkg) == first, "an edit outside the kernels' imports must keep the cache"

    for name, text in [("core/ids.py", "SCALE = 3.0\n"),  # relative `from .ids import`
                       ("core/helpers.py", "def g():\n    return 2\n"),  # `from whale.core import helpers`
                       ("constants.py", "LIMIT = 6\n")]:  # `from .. import constants`
        before = source_digest(pkg)
        (pkg / name).write_text(text)
        assert source_digest(pkg) != before, f"{name} changed but the cache key did not"


def test_the_running_package_uses_a_cache_named_after_its_digest() -> None:
    expected = numba_cache.CACHE_PARENT / f"{numba_cache.PREFIX}{source_digest()}"
    assert Path(os.environ["NUMBA_CACHE_DIR"]) == expected
    assert expected.is_dir()
