"""``trakk``: the Trakk Agency API from a shell, bulk export, a watcher and a demo.

::

    $ trakk demo                                   # no token, no network: a guided tour
    $ export TRAKK_API_TOKEN=...
    $ trakk me
    $ trakk projects --status active --json | jq .name
    $ trakk project 42
    $ trakk keywords 42
    $ trakk reports 42 --last-generated
    $ trakk content 42 3 --variant 2
    $ trakk countries; trakk languages; trakk users 7
    $ trakk api /projects/42/reports --param page=2  # any GET, printed as JSON
    $ trakk export backup/ --resume
    $ trakk watch --checkpoint seen.db --exec ./publish.sh

Global options (``--token``, ``--base-url``, ``--rate-limit``, ``-v``) go before or after
the command. Exit codes: 0 ok (also when the reader of the output leaves early, as ``|
head`` does), 1 an API, network or disk error (one line on stderr, no traceback, no
token), 2 a usage error (including a missing token). Tables and colours only go to a
terminal; piped output is plain. A wait longer than two seconds is told on stderr: a
status line on a terminal, a log line with ``-v``.
"""

from __future__ import annotations

from trakk_async.cli._commands import cli, main

__all__ = ["cli", "main"]
