"""The numeric fields of a batch of v1 ack subjects in one compiled pass (see stream.acks.parse_ack_subjects).

A module of its own so that importing stream does not load numba; it is imported on a batch's first parse.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

_DOT, _NEWLINE, _ZERO, _NINE = ord("."), ord("\n"), ord("0"), ord("9")
_PREFIX = np.frombuffer(b"$JS.ACK.", dtype=np.uint8)
_INT64_MAX = 2**63 - 1
FIELDS = 5  # delivered, stream seq, consumer seq, timestamp (ns), pending


@njit(cache=True, nogil=True)
def parse_joined(joined: npt.NDArray[np.uint8], count: int) -> tuple[bool, npt.NDArray[np.int64]]:
    """Parse `count` subjects joined by newlines, each `$JS.ACK.<stream>.<consumer>.<5 numbers>`.

    Returns (ok, fields (FIELDS, count)): ok is False unless every subject has exactly that form, with each
    number plain ASCII digits within int64 (anything else is left to the one-by-one parser).
    """
    fields = np.zeros((FIELDS, count), dtype=np.int64)
    n = len(joined)
    p = 0
    for i in range(count):
        if p + len(_PREFIX) > n:
            return False, fields
        for j in range(len(_PREFIX)):
            if joined[p + j] != _PREFIX[j]:
                return False, fields
        p += len(_PREFIX)
        for _ in range(2):  # stream and consumer names: anything but a dot or a newline
            while p < n and joined[p] != _DOT and joined[p] != _NEWLINE:
                p += 1
            if p >= n or joined[p] != _DOT:
                return False, fields
            p += 1
        for k in range(FIELDS):
            value = 0
            digits = 0
            while p < n and _ZERO <= joined[p] <= _NINE:
                digit = joined[p] - _ZERO
                if value > (_INT64_MAX - digit) // 10:
                    return False, fields
                value = value * 10 + digit
                digits += 1
                p += 1
            if digits == 0:
                return False, fields
            fields[k, i] = value
            last = k == FIELDS - 1
            end = i == count - 1
            if last and end:
                if p != n:
                    return False, fields
            elif last:
                if p >= n or joined[p] != _NEWLINE:
                    return False, fields
                p += 1
            else:
                if p >= n or joined[p] != _DOT:
                    return False, fields
                p += 1
    return True, fields
