"""The two steps of every change to a sorted row, shared by the sorted-array kernels (the book's levels,
whale/market/book_levels.py; the density tracker's book and band sizes, whale/strategy/density_band.py): a binary
search for the place, and a shift of the row's tail to open or close a gap there.

The shift is one memmove inside a numba kernel: numba compiles an element-by-element loop for a slice copy
(~0.7 ns an element, ~130 ns for a 200-level side); a memmove moves the same bytes in ~20 ns.

Pure: no I/O; `move` is only callable from numba-compiled code.
"""

from __future__ import annotations

from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def _memmove(typingctx, arr, dst, src, count):
    """arr[dst:dst + count] = arr[src:src + count] for a contiguous 1-D array (the ranges may overlap)."""
    if not (isinstance(arr, types.Array) and arr.ndim == 1 and arr.layout == "C"):
        return None
    sig = types.void(arr, types.intp, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        a, d, s, c = args
        ary = context.make_array(signature.args[0])(context, builder, a)
        itemsize = context.get_abi_sizeof(context.get_data_type(signature.args[0].dtype))
        cgutils.raw_memmove(builder, cgutils.gep(builder, ary.data, d), cgutils.gep(builder, ary.data, s), c,
                            itemsize)
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, inline="always")
def move(arr, dst, src, count):
    """arr[dst:dst + count] = arr[src:src + count], ranges overlapping or not (nothing when count <= 0). The
    caller keeps both ranges inside the array, as its element loop did."""
    if count > 0:
        _memmove(arr, dst, src, count)  # type: ignore[call-arg]  # numba passes the typing context itself


@njit(cache=True)
def lower(row, n, key):
    """First index in row[:n] (ascending) whose value is >= key."""
    lo = 0
    hi = n
    while lo < hi:
        m = (lo + hi) >> 1
        if row[m] < key:
            lo = m + 1
        else:
            hi = m
    return lo


@njit(cache=True)
def upper(row, n, key):
    """First index in row[:n] (ascending) whose value is > key."""
    lo = 0
    hi = n
    while lo < hi:
        m = (lo + hi) >> 1
        if row[m] <= key:
            lo = m + 1
        else:
            hi = m
    return lo
