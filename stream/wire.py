"""NATS wire bytes read in compiled passes: where whole messages lie in a protocol buffer, and the numbers in
a batch of JetStream ack subjects.

The Inbox fast path (stream.inbox) asks find_messages for the messages at the front of nats-py's parser
buffer: a Python loop that matched each control line cost 3.5 us a message, more than the rest of
receiving it. stream.acks.parse_ack_subjects asks ack_fields for a batch's positions: splitting 5000
subjects and calling int() 25,000 times cost 5 ms. A module of its own so that importing stream does not
load numba; its users import it when they first need it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

# Columns of a found message's row: byte offsets into the buffer, and lengths.
SUBJECT, SUBJECT_LEN, REPLY, REPLY_LEN, HEADERS, HEADERS_LEN, PAYLOAD, PAYLOAD_LEN, SID = range(9)
COLUMNS = 9
OFFSETS = np.array([1, 0, 1, 0, 1, 0, 1, 0, 0], dtype=np.int64)  # the columns that are offsets

_CR, _LF, _SPACE, _TAB, _DOT = ord("\r"), ord("\n"), ord(" "), ord("\t"), ord(".")
_ZERO, _NINE = ord("0"), ord("9")
_HMSG = np.frombuffer(b"HMSG ", dtype=np.uint8)
_MSG = np.frombuffer(b"MSG ", dtype=np.uint8)
_ACK_PREFIX = np.frombuffer(b"$JS.ACK.", dtype=np.uint8)
_MAX_ARGS = 5  # subject sid [reply] [header size] total size
_BIG = 1 << 40  # larger than any message NATS allows: a size beyond it is malformed
_INT64_MAX = 2**63 - 1
ACK_FIELDS = 5  # an ack subject's numbers: delivered, stream seq, consumer seq, timestamp (ns), pending


@njit(cache=True, nogil=True)
def _starts_with(buf: npt.NDArray[np.uint8], pos: int, word: npt.NDArray[np.uint8]) -> bool:
    if pos + len(word) > len(buf):
        return False
    for i in range(len(word)):  # noqa: SIM110 - a plain loop compiles; all() over a generator does not
        if buf[pos + i] != word[i]:
            return False
    return True


@njit(cache=True, nogil=True)
def _number(buf: npt.NDArray[np.uint8], start: int, end: int, limit: int) -> int:
    """The decimal digits buf[start:end] as an int; -1 for anything else, or for a number beyond limit."""
    if end <= start:
        return -1
    value = 0
    for i in range(start, end):
        c = buf[i]
        if c < _ZERO or c > _NINE:
            return -1
        digit = c - _ZERO
        if value > (limit - digit) // 10:
            return -1
        value = value * 10 + digit
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
        sid = _number(buf, starts[1], ends[1], _BIG)
        known = False
        for s in sids:
            if s == sid:
                known = True
        if not known:
            return count, pos, False  # another subscription's (or malformed): nats-py's
        total = _number(buf, starts[n - 1], ends[n - 1], _BIG)
        header_size = _number(buf, starts[n - 2], ends[n - 2], _BIG) if headers else 0
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


@njit(cache=True, nogil=True)
def ack_fields(joined: npt.NDArray[np.uint8], count: int) -> tuple[bool, npt.NDArray[np.int64]]:
    """Read `count` subjects joined by newlines, each `$JS.ACK.<stream>.<consumer>.<ACK_FIELDS numbers>`.

    Returns (ok, fields (ACK_FIELDS, count)): ok is False unless every subject has exactly that form, with each
    number plain ASCII digits within int64 (anything else is left to the one-by-one parser).
    """
    fields = np.zeros((ACK_FIELDS, count), dtype=np.int64)
    n = len(joined)
    p = 0
    for i in range(count):
        if not _starts_with(joined, p, _ACK_PREFIX):
            return False, fields
        p += len(_ACK_PREFIX)
        for _ in range(2):  # stream and consumer names: anything but a dot or a newline
            while p < n and joined[p] != _DOT and joined[p] != _LF:
                p += 1
            if p >= n or joined[p] != _DOT:
                return False, fields
            p += 1
        for k in range(ACK_FIELDS):
            start = p
            while p < n and joined[p] != _DOT and joined[p] != _LF:
                p += 1
            value = _number(joined, start, p, _INT64_MAX)
            if value < 0:
                return False, fields
            fields[k, i] = value
            # Each number but the last ends at a dot; the last, at the newline (or the end after the last subject).
            expected = _DOT if k < ACK_FIELDS - 1 else (_LF if i < count - 1 else -1)
            if expected < 0:
                if p != n:
                    return False, fields
            elif p >= n or joined[p] != expected:
                return False, fields
            else:
                p += 1
    return True, fields
