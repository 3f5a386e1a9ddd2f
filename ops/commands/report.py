"""`footfall report`: the weekly insight report of a store, from a running `footfall serve`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ops.cli import CommandTree

_HELP = """\
Write the weekly insight report of a store for an ISO week: headline numbers
against the week before, the largest changes, peak hours, the hours over the
customers-per-staff target and the zones whose dwell rose or fell most, in the
store's time zone. --out ending in .pdf gives PDF (printed by headless Chromium
in serve), anything else HTML.

serve computes it (it owns the store and follows the layouts); this command asks
it over HTTP as a user of its config, the password from $FOOTFALL_PASSWORD.

  footfall report --store store-001 --week 2026-W01 --out report.pdf
"""


def register(tree: CommandTree) -> None:
    p = tree.add("report", "The weekly insight report of a store (HTML or PDF), from a running serve.", _run,
                 description=_HELP)  # fmt: skip
    p.add_argument("--store", required=True, help="store id")
    p.add_argument("--week", required=True, help="ISO week, e.g. 2026-W01 (Monday to Monday, local time)")
    p.add_argument("--out", required=True, type=Path, help="file to write: .pdf for PDF, else HTML")
    p.add_argument("--serve", default="http://127.0.0.1:8123",
                   help="the running serve's address (default: http://127.0.0.1:8123)")  # fmt: skip
    p.add_argument("--user", default="default", help="serve user (default: default, from loopback only)")


def _run(args: argparse.Namespace) -> int:
    import base64
    import contextlib
    import json
    import urllib.error
    import urllib.parse
    import urllib.request

    fmt = "pdf" if args.out.suffix.lower() == ".pdf" else "html"
    query = urllib.parse.urlencode({"week": args.week, "format": fmt})
    store = urllib.parse.quote(args.store, safe="")
    url = f"{args.serve.rstrip('/')}/api/v1/stores/{store}/report?{query}"
    secret = f"{args.user}:{os.environ.get('FOOTFALL_PASSWORD', '')}".encode()
    request = urllib.request.Request(url, headers={"Authorization": "Basic " + base64.b64encode(secret).decode()})
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        with contextlib.suppress(ValueError, KeyError, TypeError):  # not serve's JSON: shown as it came
            detail = json.loads(detail)["error"]
        print(f"footfall report: serve answered {exc.code}: {detail}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"footfall report: cannot reach serve at {args.serve}: {exc} (is `footfall serve` running?)",
              file=sys.stderr)  # fmt: skip
        return 1
    args.out.write_bytes(body)
    print(f"{args.out}: {fmt.upper()} report of {args.store} for {args.week}, {len(body):,} bytes")
    return 0
