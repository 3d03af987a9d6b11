"""``trakk-fake``: serve a fake Trakk for manual exploration until Ctrl-C.

$ trakk-fake --port 8080 --projects 250 --seed 1
$ curl -H "Authorization: Bearer <token>" http://127.0.0.1:8080/api/v1/projects
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Sequence

from trakk_async.testing._app import FakeTrakk


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trakk-fake", description="Serve a fake Trakk Agency API v1 on loopback."
    )
    parser.add_argument("--seed", type=int, default=1, help="world seed (default: 1)")
    parser.add_argument("--projects", type=int, default=250, help="projects (default: 250)")
    parser.add_argument("--agencies", type=int, default=3, help="agencies (default: 3)")
    parser.add_argument("--host", default="127.0.0.1", help="address (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port, 0 = any (default: 8080)")
    return parser


async def _serve(args: argparse.Namespace) -> None:
    async with FakeTrakk.running(
        seed=args.seed,
        projects=args.projects,
        agencies=args.agencies,
        host=args.host,
        port=args.port,
    ) as fake:
        print(f"Fake Trakk serving {args.projects} projects at {fake.base_url}", flush=True)
        print(f"  agency token (agency {fake.agency_id}): {fake.token}", flush=True)
        print(f"  super-admin token:        {fake.admin_token}", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        await asyncio.Event().wait()


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``trakk-fake`` console script."""
    args = _parser().parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
