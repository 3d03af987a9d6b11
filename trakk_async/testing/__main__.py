"""``trakk-fake``: serve a fake Trakk for manual exploration until Ctrl-C.

$ trakk-fake --port 8080 --projects 250 --seed 1 --advance 10
$ curl -H "Authorization: Bearer <token>" http://127.0.0.1:8080/api/v1/projects

``--advance SECONDS`` runs Trakk's report pipeline every SECONDS (reports are created,
start running, complete or fail) and prints each change, so ``trakk watch`` and the
README's waiting examples have something to show.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Sequence
from datetime import date

from trakk_async.testing._app import FakeTrakk, PortInUseError
from trakk_async.testing._throttle import DEFAULT_RATE_LIMITS
from trakk_async.testing._world import ReportChange

#: How often the command looks for pipeline changes to print (the pipeline itself runs
#: on its ``--advance`` schedule, whenever requests or this look come).
_PRINT_EVERY = 1.0


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {text}")
    return value


def _window(text: str) -> tuple[int, float]:
    limit, _, seconds = text.partition("/")
    try:
        window = (int(limit), float(seconds))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LIMIT/SECONDS, e.g. 60/60: {text}") from None
    if window[0] < 1 or window[1] <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive LIMIT/SECONDS: {text}")
    return window


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trakk-fake",
        description="Serve a fake Trakk Agency API v1 on loopback (realistic data by default).",
    )
    parser.add_argument("--seed", type=int, default=1, help="world seed (default: 1)")
    parser.add_argument("--projects", type=int, default=250, help="projects (default: 250)")
    parser.add_argument("--agencies", type=int, default=3, help="agencies (default: 3)")
    parser.add_argument("--host", default="127.0.0.1", help="address (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port, 0 = any (default: 8080)")
    parser.add_argument(
        "--today", type=date.fromisoformat, help="the fake's today, YYYY-MM-DD (default: UTC today)"
    )
    parser.add_argument(
        "--tidy", action="store_true", help="the reference's exact shapes, no realistic variations"
    )
    parser.add_argument(
        "--advance",
        type=_positive,
        metavar="SECONDS",
        help="run the report pipeline every SECONDS and print its changes",
    )
    limits = parser.add_mutually_exclusive_group()
    limits.add_argument(
        "--rate-limit",
        type=_window,
        action="append",
        metavar="LIMIT/SECONDS",
        help="a fixed window for the tokens, repeatable (default: 60/60 and 1000/3600)",
    )
    limits.add_argument(
        "--unlimited", action="store_true", help="tokens without limits (no rate-limit headers)"
    )
    return parser


def _describe(change: ReportChange) -> str:
    moved = "created" if change.before is None else f"{change.before} -> {change.after}"
    return (
        f"{time.strftime('%H:%M:%S')}  project {change.project_id}: "
        f"report #{change.report_number} (id {change.report_id}) {moved}"
    )


async def _serve(args: argparse.Namespace) -> None:
    rate_limits = () if args.unlimited else (args.rate_limit or DEFAULT_RATE_LIMITS)
    async with FakeTrakk.running(
        seed=args.seed,
        projects=args.projects,
        agencies=args.agencies,
        host=args.host,
        port=args.port,
        today=args.today,
        tidy=args.tidy,
        advance_every=args.advance,
        rate_limits=rate_limits,
    ) as fake:
        profile = "tidy" if fake.tidy else "realistic"
        limits = ", ".join(f"{n}/{s:g}s" for n, s in fake.rate_limits()) or "unlimited"
        print(f"Fake Trakk serving {args.projects} projects at {fake.base_url}", flush=True)
        print(f"  agency token (agency {fake.agency_id}): {fake.token}", flush=True)
        print(f"  super-admin token:        {fake.admin_token}", flush=True)
        print(f"  {profile} data, today {fake.today}, rate limits {limits}", flush=True)
        if args.advance is None:
            print("Press Ctrl-C to stop.", flush=True)
            await asyncio.Event().wait()
        print(f"Reports advance every {args.advance:g}s. Press Ctrl-C to stop.", flush=True)
        while True:
            await asyncio.sleep(min(_PRINT_EVERY, args.advance))
            for change in fake.catch_up():
                print(_describe(change), flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``trakk-fake`` console script."""
    args = _parser().parse_args(argv)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(args))
    except PortInUseError as exc:
        print(
            f"trakk-fake: {exc.strerror}; choose another --port (0: any free port)", file=sys.stderr
        )
        raise SystemExit(1) from None
    except (OSError, ValueError) as exc:
        print(f"trakk-fake: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
