"""``trakk``: the Trakk Agency API from a shell, bulk export, a watcher and a demo.

::

    $ trakk demo                                   # no token, no network: a guided tour
    $ export TRAKK_API_TOKEN=...
    $ trakk me
    $ trakk projects --status active --json | jq .name
    $ trakk reports 42
    $ trakk content 42 3 --variant 2
    $ trakk export backup/ --resume
    $ trakk watch --checkpoint seen.db --exec ./publish.sh

Exit codes: 0 ok, 1 an API, network or disk error (one line on stderr, no traceback, no
token), 2 a usage error (including a missing token). Tables and colours only go to a
terminal; piped output is plain.
"""

from __future__ import annotations

from trakk_async.cli._commands import cli, main

__all__ = ["cli", "main"]
