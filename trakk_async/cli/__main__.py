"""``python -m trakk_async.cli``: the same as the ``trakk`` command."""

from trakk_async.cli._commands import main

main()
