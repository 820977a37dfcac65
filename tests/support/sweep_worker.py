"""A gateway worker's retention sweeper, alone in a process of its own (for the
scaled-profile test): waits for the go file, asks for the sweep's turn
``--tries`` times, prints how many sweeps it made as JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

from bot.privacy.sweep import RetentionSweeper
from bot.settings import Settings


async def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("database-url", "redis-url", "prefix", "go", "secrets-file"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--every-s", type=float, required=True)
    parser.add_argument("--tries", type=int, default=20)
    args = parser.parse_args()
    settings = Settings(
        database_url=args.database_url,
        redis_url=args.redis_url,
        redis_key_prefix=args.prefix,
        retention_sweep_every_s=args.every_s,
        secrets_file=Path(args.secrets_file),
    )
    sweeper = RetentionSweeper(settings)
    go = Path(args.go)
    deadline = time.monotonic() + 30
    while not go.exists():  # both processes start asking at once
        if time.monotonic() > deadline:
            raise SystemExit("no go file")
        await asyncio.sleep(0.01)
    answers = [await sweeper.run_once() for _ in range(args.tries)]
    await sweeper.stop()
    print(json.dumps({"runs": sweeper.runs, "answers": answers}))


if __name__ == "__main__":
    asyncio.run(main())
