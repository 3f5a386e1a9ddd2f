"""Where the whole messages for given subscriptions lie in a NATS protocol buffer, found in one compiled pass.

The Inbox fast path (stream.inbox) asks this for the messages at the front of nats-py's parser buffer; a
Python loop that matched each control line cost 3.5 us a message, more than the rest of receiving it. A
module of its own so that importing stream does not load numba; an Inbox loads it on its client's first use.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

# Columns of a found message's row: byte offsets into the buffer, and lengths.
SUBJECT, SUBJECT_LEN, REPLY, REPLY_LEN, HEADERS, HEADERS_LEN, PAYLOAD, PAYLOAD_LEN, SID = range(9)
COLUMNS = 9
OFFSETS = np.array([1, 0, 1, 0, 1, 0, 1, 0, 0], dtype=np.int64)  # the columns that are offsets

_CR, _LF, _SPACE, _TAB = ord("\r"), ord("\n"), ord(" "), ord("\t")
_ZERO, _NINE = ord("0"), ord("9")
_HMSG = np.frombuffer(b"HMSG ", dtype=np.uint8)
_MSG = np.frombuffer(b"MSG ", dtype=np.uint8)
_MAX_ARGS = 5  # subject sid [reply] [header size] total size
_BIG = 1 << 40  # larger than any message NATS allows: a size beyond it is malformed


@njit(cache=True, nogil=True)
def _starts_with(buf: npt.NDArray[np.uint8], pos: int, word: npt.NDArray[np.uint8]) -> bool:
    if pos + len(word) > len(buf):
        return False
    for i in range(len(word)):  # noqa: SIM110 - a plain loop compiles; all() over a generator does not
        if buf[pos + i] != word[i]:
            return False
    return True


@njit(cache=True, nogil=True)
def _number(buf: npt.NDArray[np.uint8], start: int, end: int) -> int:
    """The decimal digits buf[start:end] as an int; -1 for anything else (or a size beyond _BIG)."""
    if end <= start:
        return -1
    value = 0
    for i in range(start, end):
        c = buf[i]
        if c < _ZERO or c > _NINE:
            return -1
        value = value * 10 + (c - _ZERO)
        if value > _BIG:
            return -1
    return value


@njit(cache=True, nogil=True)
def find_messages(
    buf: npt.NDArray[np.uint8], sids: npt.NDArray[np.int64], out: npt.NDArray[np.int64], max_line: int
) -> tuple[int, int, bool]:
    """Find the whole MSG/HMSG messages for `sids` at the front of buf, up to len(out) of them.

    Fills out[:count] (rows of COLUMNS). Returns (count, the offset just past them, partial): partial is
    True when what follows is the start of a message for `sids` that has not all arrived (or a control line
    still arriving); False when it is anything else, which the caller leaves to nats-py's parser.
    """
    size = len(buf)
    pos = 0
    count = 0
    starts = np.empty(_MAX_ARGS, dtype=np.int64)
    ends = np.empty(_MAX_ARGS, dtype=np.int64)
    while count < len(out):
        if _starts_with(buf, pos, _HMSG):
            first, headers = pos + len(_HMSG), True
        elif _starts_with(buf, pos, _MSG):
            first, headers = pos + len(_MSG), False
        else:
            return count, pos, False
        # The control line, to its CRLF.
        eol = -1
        limit = min(size - 1, first + max_line)
        for i in range(first, limit):
            if buf[i] == _CR and buf[i + 1] == _LF:
                eol = i
                break
        if eol < 0:
            return count, pos, size - pos < max_line  # still arriving, unless no line could be that long
        # Its arguments, split on runs of spaces and tabs.
        n = 0
        i = first
        while i < eol:
            while i < eol and (buf[i] == _SPACE or buf[i] == _TAB):
                i += 1
            if i >= eol:
                break
            if n == _MAX_ARGS:
                return count, pos, False  # malformed: nats-py's parser raises its ProtocolError
            starts[n] = i
            while i < eol and buf[i] != _SPACE and buf[i] != _TAB:
                i += 1
            ends[n] = i
            n += 1
        with_reply = n == (5 if headers else 4)
        if n != (4 if headers else 3) and not with_reply:
            return count, pos, False
        sid = _number(buf, starts[1], ends[1])
        known = False
        for s in sids:
            if s == sid:
                known = True
        if not known:
            return count, pos, False  # another subscription's (or malformed): nats-py's
        total = _number(buf, starts[n - 1], ends[n - 1])
        header_size = _number(buf, starts[n - 2], ends[n - 2]) if headers else 0
        if total < 0 or header_size < 0 or header_size > total:
            return count, pos, False
        start = eol + 2
        end = start + total
        if end + 2 > size:
            return count, pos, True  # not all here yet
        row = out[count]
        row[SUBJECT], row[SUBJECT_LEN] = starts[0], ends[0] - starts[0]
        if with_reply:
            row[REPLY], row[REPLY_LEN] = starts[2], ends[2] - starts[2]
        else:
            row[REPLY], row[REPLY_LEN] = 0, 0
        row[HEADERS], row[HEADERS_LEN] = start, header_size
        row[PAYLOAD], row[PAYLOAD_LEN] = start + header_size, total - header_size
        row[SID] = sid
        count += 1
        pos = end + 2
    return count, pos, False
