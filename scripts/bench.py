"""`make bench`: the whole stack under simulated people; docs/benchmarks.md.

Starts Rasa, the action server and the gateway with bot.runner on a throwaway
SQLite database (var/bench/), with a fake Telegram Bot API on loopback, and drives
scripted triage conversations through the widget API and the Telegram webhook at
human pace (1, 10 and 50 people), sends the same load straight to Rasa (the
project's channel, as the gateway calls it) to measure the gateway's overhead,
then ramps concurrency with no pause to find the peak messages per second.
Everything listens on 127.0.0.1; every loop is bounded in time. Raw figures go
to var/bench/results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from bot.runner import Stack, build_stack, free_port, start
from scripts import bench_driver as drv
from scripts.bench_profile import RATE_HZ, find_py_spy, record, top_lines
from scripts.report_common import ROOT, training_seconds

BENCH_DIR = ROOT / "var" / "bench"
RESULTS = BENCH_DIR / "results.json"
HUMAN_LEVELS = (1, 10, 50)
HUMAN_SLICES = 2  # gateway and direct alternate in this many slices per level
SATURATION_LEVELS = (2, 4, 8, 16, 32, 64, 96)
BUDGET_S = 570.0  # the whole bench stays under 10 minutes


@dataclass
class Plan:
    """How long each part runs."""

    human_seconds: float = 45.0
    step_seconds: float = 10.0
    pause_mean: float = 5.0


QUICK = Plan(human_seconds=15.0, step_seconds=5.0, pause_mean=2.0)


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ processes


class Monitor:
    """Samples RSS (with children) of each service; CPU time per run."""

    def __init__(self, stack: Stack) -> None:
        self.procs: dict[str, psutil.Process] = {}
        for service in stack.services:
            assert service.proc is not None
            self.procs[service.name] = psutil.Process(service.proc.pid)
        self.peak: dict[str, int] = dict.fromkeys(self.procs, 0)
        self.peak_total = 0
        self._task: asyncio.Task[None] | None = None

    @staticmethod
    def _tree(p: psutil.Process) -> list[psutil.Process]:
        try:
            return [p, *p.children(recursive=True)]
        except psutil.Error:
            return [p]

    def rss(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for name, p in self.procs.items():
            total = 0
            for q in self._tree(p):
                try:
                    total += q.memory_info().rss
                except psutil.Error:
                    pass
            out[name] = total
        return out

    def cpu(self) -> dict[str, float]:
        """Return CPU seconds used so far by each service (with children)."""
        me = psutil.Process().cpu_times()
        out: dict[str, float] = {"driver": me.user + me.system}
        for name, p in self.procs.items():
            total = 0.0
            for q in self._tree(p):
                try:
                    t = q.cpu_times()
                    total += t.user + t.system
                except psutil.Error:
                    pass
            out[name] = total
        return out

    def sample(self) -> None:
        now = self.rss()
        for name, value in now.items():
            self.peak[name] = max(self.peak[name], value)
        self.peak_total = max(self.peak_total, sum(now.values()))

    async def _loop(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(1.0)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass


# ----------------------------------------------------------------------- runs


@dataclass
class RunResult:
    """One load run: who, how many, how long, and what came back."""

    name: str
    target: str  # gateway | rasa | widget
    people: int
    paused: bool
    seconds: float
    conversations: dict[str, int]
    overall: dict[str, float]
    by_channel: dict[str, dict[str, float]]
    by_kind: dict[str, dict[str, float]]  # by step of the conversation
    errors: dict[str, int]
    cpu_cores: dict[str, float]  # CPU seconds / wall seconds, per service
    machine_cpu: float  # share of all cores busy during the run (any process)


@dataclass
class Slice:
    """Raw outcome of one stretch of load."""

    rec: drv.Recorder
    seconds: float
    cpu_s: dict[str, float]
    busy_core_s: float  # CPU-seconds used by every process on the machine


async def load_slice(
    target: str,
    make_channel: Callable[[int, int], drv.Channel],
    people: int,
    seconds: float,
    pause: Callable[[], float],
    monitor: Monitor,
    *,
    stagger: float = 0.0,
    seed: int = 0,
) -> Slice:
    """Run ``people`` simulated people for ``seconds``; return what happened."""
    rec = drv.Recorder()
    cpu0 = monitor.cpu()
    psutil.cpu_percent(None)  # start the machine-wide measure
    started = time.perf_counter()
    deadline = started + seconds

    async def one(i: int) -> None:
        if stagger:
            rng = random.Random(seed * 7919 + i)  # noqa: S311
            await asyncio.sleep(rng.uniform(0, stagger))
        await drv.person(
            lambda n: make_channel(i, n), seed * 7919 + i, rec, pause, deadline
        )

    tasks = [asyncio.create_task(one(i)) for i in range(people)]
    done, pending = await asyncio.wait(
        tasks, timeout=seconds + 2 * drv.REQUEST_TIMEOUT_S + 5
    )
    for task in pending:  # bounded: whatever is still hanging is cut off
        task.cancel()
    for task in done:
        if task.exception() is not None:
            rec.turns.append(
                drv.Turn(target, time.perf_counter(), 0.0, 0.0,
                         f"driver: {task.exception()!r}")
            )
    elapsed = time.perf_counter() - started
    cpu1 = monitor.cpu()
    busy = psutil.cpu_percent(None) / 100 * (os.cpu_count() or 1) * elapsed
    return Slice(rec, elapsed, {k: cpu1[k] - cpu0[k] for k in cpu1}, busy)


def combine(
    name: str, target: str, people: int, paused: bool, slices: list[Slice]
) -> RunResult:
    """Pool slices of one target into one run's figures."""
    rec = drv.Recorder()
    for sl in slices:
        rec.turns.extend(sl.rec.turns)
        rec.conversations.update(sl.rec.conversations)
    elapsed = sum(sl.seconds for sl in slices)
    cpu: dict[str, float] = {}
    for sl in slices:
        for k, v in sl.cpu_s.items():
            cpu[k] = cpu.get(k, 0.0) + v
    busy = sum(sl.busy_core_s for sl in slices)
    cores = {k: round(v / elapsed, 2) for k, v in cpu.items()}
    # whatever else ran on the machine meanwhile (other people's work, the OS)
    cores["others"] = round(max(0.0, busy - sum(cpu.values())) / elapsed, 2)
    channels = sorted({t.channel for t in rec.turns})
    kinds = sorted({t.kind for t in rec.turns})
    return RunResult(
        name=name,
        target=target,
        people=people,
        paused=paused,
        seconds=round(elapsed, 2),
        conversations=dict(rec.conversations),
        overall=rec.summary(None, elapsed),
        by_channel={c: rec.summary(c, elapsed) for c in channels},
        by_kind={k: rec.summary(None, elapsed, kind=k) for k in kinds},
        errors=dict(rec.errors()),
        cpu_cores=cores,
        machine_cpu=round(busy / elapsed / (os.cpu_count() or 1), 2),
    )


async def run_load(
    name: str,
    target: str,
    make_channel: Callable[[int, int], drv.Channel],
    people: int,
    seconds: float,
    pause: Callable[[], float],
    monitor: Monitor,
) -> RunResult:
    """Run one load with no interleaving (saturation steps, warm-up, profile)."""
    sl = await load_slice(target, make_channel, people, seconds, pause, monitor)
    return combine(name, target, people, False, [sl])


@dataclass
class Bench:
    """Everything `make bench` measured."""

    started_at: float
    ready_s: dict[str, float] = field(default_factory=dict)
    setup_s: float = 0.0
    human: list[RunResult] = field(default_factory=list)
    saturation: list[RunResult] = field(default_factory=list)
    rss_peak: dict[str, int] = field(default_factory=dict)
    rss_peak_total: int = 0
    rss_idle: dict[str, int] = field(default_factory=dict)
    driver_rss: int = 0
    training_s: int | None = None
    total_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    plan: dict[str, float] = field(default_factory=dict)
    load_before: list[float] = field(default_factory=list)
    cpu_count: int = field(default_factory=lambda: os.cpu_count() or 1)
    profile: dict[str, Any] = field(default_factory=dict)
    # the scaled profile: PostgreSQL + Redis, 2 gateway and 2 Rasa workers
    scaled: dict[str, Any] = field(default_factory=dict)


def prepare_database() -> str:
    """Make a fresh SQLite database under var/bench/ with the directory loaded."""
    from bot.db.migrate import upgrade
    from bot.db.session import session_scope
    from bot.directory.importer import import_directory

    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    for old in BENCH_DIR.glob("bench.db*"):
        old.unlink()
    url = f"sqlite:///{BENCH_DIR / 'bench.db'}"
    upgrade(url)
    with session_scope(url) as session:
        import_directory(session, Path("data/directory"))
    return url


def _bot_api(box: drv.ReplyBox) -> Any:
    """Return a fake Telegram Bot API that hands each sent message to ``box``."""
    try:
        from tests.support.fake_bot_api import FakeBotApi
    except ImportError as exc:  # the Telegram tests' fake is the one we reuse
        raise SystemExit(
            f"error: tests/support/fake_bot_api.py not importable: {exc}"
        ) from exc

    class BenchBotApi(FakeBotApi):  # type: ignore[misc,valid-type]
        def _result(self, method: str, params: dict[str, Any]) -> Any:
            result = super()._result(method, params)
            if method == "sendMessage":
                box.put(int(params["chat_id"]), str(params.get("text", "")))
                self.calls.clear()  # keep the fake's memory flat
            return result

    return BenchBotApi()


async def bench(plan: Plan) -> Bench:
    """Start the stack, run every load, stop it; return the figures."""
    from tests.support.servers import serve

    result = Bench(started_at=time.time(), training_s=training_seconds())
    result.load_before = [round(x, 2) for x in os.getloadavg()]
    result.plan = asdict(plan)
    t0 = time.perf_counter()
    _log("preparing a throwaway SQLite database under var/bench/ ...")
    url = prepare_database()
    result.setup_s = round(time.perf_counter() - t0, 1)

    box = drv.ReplyBox()
    fake = _bot_api(box)
    secret = secrets.token_urlsafe(24)
    async with serve(fake.app()) as fake_url:
        gateway_port = free_port()
        stack = build_stack(
            database_url=url,
            gateway_port=gateway_port,
            rasa_token=secrets.token_hex(16),
            log_dir=BENCH_DIR / "logs",
            extra_env={
                "ENVIRONMENT": "development",
                "TELEGRAM_BOT_TOKEN": fake.token,
                "TELEGRAM_WEBHOOK_SECRET": secret,
                "TELEGRAM_BASE_URL": f"{fake_url}/bot",
                "TELEGRAM_MODE": "webhook",
                "PUBLIC_URL": f"http://127.0.0.1:{gateway_port}",
                # per-client limit: every simulated person shares 127.0.0.1
                "WIDGET_RATE_LIMIT_PER_MINUTE": "1000000",
                "LOG_LEVEL": "WARNING",
            },
        )
        _log("starting Rasa, the action server and the gateway ...")
        result.ready_s = await asyncio.to_thread(start, stack)
        _log(f"ready: {result.ready_s}")
        monitor = Monitor(stack)
        monitor.sample()
        result.rss_idle = monitor.rss()
        monitor.start()
        try:
            runs = await _runs(plan, EMBEDDED, stack, monitor, t0,
                               TelegramPath(fake, box, secret))
            result.human, result.saturation = runs.human, runs.saturation
            result.profile = runs.profile
            result.notes.extend(runs.notes)
        finally:
            await monitor.stop()
            result.rss_peak = dict(monitor.peak)
            result.rss_peak_total = monitor.peak_total
            result.driver_rss = psutil.Process().memory_info().rss
            await asyncio.to_thread(stack.stop)
    if not os.environ.get("BENCH_SKIP_SCALED"):
        await bench_scaled(plan, result)
    result.total_s = round(time.perf_counter() - t0, 1)
    return result


# ------------------------------------------------------------- scaled profile

SCALED_WORKERS = 2
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def prepare_postgres() -> tuple[str, Callable[[], None]]:
    """A throwaway PostgreSQL database with the directory; and its dropper."""
    import psycopg

    from bot.db.migrate import upgrade
    from bot.db.session import get_engine, session_scope
    from bot.directory.importer import import_directory

    name = f"fd_bench_{secrets.token_hex(5)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # our own hex name
    url = PG_ADMIN_URL.rsplit("/", 1)[0].replace(
        "postgresql://", "postgresql+psycopg://", 1
    ) + f"/{name}"
    upgrade(url)
    with session_scope(url) as session:
        import_directory(session, Path("data/directory"))

    def drop() -> None:
        get_engine(url).dispose()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url, drop


def _clear_redis(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


async def bench_scaled(plan: Plan, result: Bench) -> None:
    """The same loads on the scaled profile, in the same run: PostgreSQL (a
    throwaway database on the local server), Redis (a key prefix of its own),
    two gateway workers and two Rasa workers."""
    t0 = time.perf_counter()
    _log("scaled profile: a throwaway PostgreSQL database ...")
    try:
        url, drop = await asyncio.to_thread(prepare_postgres)
    except Exception as exc:  # noqa: BLE001 (no PostgreSQL here: say so)
        result.notes.append(f"scaled profile not run: PostgreSQL unavailable ({exc})")
        return
    prefix = f"fdbench{secrets.token_hex(4)}"
    scaled: dict[str, Any] = {
        "gateway_workers": SCALED_WORKERS,
        "rasa_workers": SCALED_WORKERS,
        "human": [],
        "saturation": [],
    }
    try:
        gateway_port = free_port()
        stack = build_stack(
            database_url=url,
            gateway_port=gateway_port,
            rasa_token=secrets.token_hex(16),
            log_dir=BENCH_DIR / "logs-scaled",
            gateway_workers=SCALED_WORKERS,
            rasa_workers=SCALED_WORKERS,
            redis_url=REDIS_URL,
            redis_key_prefix=prefix,
            extra_env={
                "ENVIRONMENT": "development",
                "PUBLIC_URL": f"http://127.0.0.1:{gateway_port}",
                "WIDGET_RATE_LIMIT_PER_MINUTE": "1000000",
                "LOG_LEVEL": "WARNING",
            },
        )
        _log("scaled profile: starting 2 Rasa workers, actions, 2 gateway workers ...")
        scaled["ready_s"] = await asyncio.to_thread(start, stack)
        monitor = Monitor(stack)
        monitor.start()
        try:
            runs = await _runs(plan, SCALED, stack, monitor, t0)
            scaled["human"] = [asdict(r) for r in runs.human]
            scaled["saturation"] = [asdict(r) for r in runs.saturation]
            if runs.profile:
                scaled["profile"] = runs.profile
            # the scaled profile has no time budget; its notes (no py-spy) are
            # the embedded profile's too, and said there
        finally:
            await monitor.stop()
            scaled["rss_peak"] = dict(monitor.peak)
            scaled["rss_peak_total"] = monitor.peak_total
            await asyncio.to_thread(stack.stop)
    finally:
        await asyncio.to_thread(drop)
        await asyncio.to_thread(_clear_redis, prefix)
    scaled["total_s"] = round(time.perf_counter() - t0, 1)
    result.scaled = scaled


Factory = Callable[[int, int], drv.Channel]


@dataclass(frozen=True)
class TelegramPath:
    """What the Telegram channel needs: the fake Bot API, its replies, the secret."""

    fake: Any
    box: drv.ReplyBox
    secret: str


def channel_factories(
    http: httpx.AsyncClient, stack: Stack, telegram: TelegramPath | None = None
) -> dict[str, Factory]:
    """The simulated people's channels for ``stack``: widget and rasa always;
    telegram and mixed (widget and Telegram in turn) when the fake Bot API runs."""

    def widget(_i: int, _n: int) -> drv.Channel:
        return drv.WidgetChannel(http, stack.gateway_url)

    def rasa(_i: int, _n: int) -> drv.Channel:
        return drv.RasaChannel(http, stack.rasa_url, stack.rasa_token)

    factories: dict[str, Factory] = {"widget": widget, "rasa": rasa}
    if telegram is not None:
        tg = telegram

        def telegram_channel(_i: int, _n: int) -> drv.Channel:
            return drv.TelegramChannel(
                http, stack.gateway_url, tg.secret, tg.box, tg.fake.text_update
            )

        def mixed(i: int, n: int) -> drv.Channel:
            return widget(i, n) if (i + n) % 2 == 0 else telegram_channel(i, n)

        factories["telegram"] = telegram_channel
        factories["mixed"] = mixed
    return factories


def no_pause() -> float:
    """The saturation pace: the next message as soon as the reply is in."""
    return 0.0


def human_pace(plan: Plan, seed: int) -> Callable[[], float]:
    """A person's pause between messages: the plan's mean, give or take 20 %."""
    rng = random.Random(seed)  # noqa: S311

    def human() -> float:
        return rng.uniform(0.8, 1.2) * plan.pause_mean

    return human


@dataclass(frozen=True)
class Profile:
    """What differs between the embedded and the scaled profile's loads."""

    label: str  # for the log
    prefix: str  # of every run's name
    pace_seed: int
    warm_up: tuple[tuple[str, str, int, float], ...]  # target, channel, people, s
    human_levels: tuple[int, ...]
    human_targets: tuple[tuple[str, str], ...]  # target, channel
    budgeted: bool  # held to BUDGET_S (from t0), with a note where it stops


EMBEDDED = Profile(
    label="embedded",
    prefix="",
    pace_seed=7,
    warm_up=(("gateway", "mixed", 4, 8.0), ("rasa", "rasa", 2, 4.0)),
    human_levels=HUMAN_LEVELS,
    human_targets=(("gateway", "mixed"), ("rasa", "rasa")),
    budgeted=True,
)
SCALED = Profile(
    label="scaled profile",
    prefix="scaled-",
    pace_seed=11,
    warm_up=(("widget", "widget", 4, 8.0), ("rasa", "rasa", 4, 4.0)),
    human_levels=HUMAN_LEVELS[-1:],
    human_targets=(("widget", "widget"), ("rasa", "rasa")),
    budgeted=False,
)


@dataclass
class Measured:
    """One profile's runs."""

    human: list[RunResult] = field(default_factory=list)
    saturation: list[RunResult] = field(default_factory=list)
    profile: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


async def human_runs(
    plan: Plan, prof: Profile, factories: dict[str, Factory],
    human: Callable[[], float], monitor: Monitor, people: int,
) -> list[RunResult]:
    """``people`` at human pace on each of the profile's targets, in turn."""
    # The targets take turns in short slices, so a change in the machine's
    # background load falls on all alike.
    _log(f"{prof.label}: human pace, {people} people, "
         + " and ".join(t for t, _ in prof.human_targets)
         + f" in turn, {plan.human_seconds:.0f} s each ...")
    slices: dict[str, list[Slice]] = {t: [] for t, _ in prof.human_targets}
    each = plan.human_seconds / HUMAN_SLICES
    for k in range(HUMAN_SLICES):
        for target, channel in prof.human_targets:
            slices[target].append(await load_slice(
                target, factories[channel], people, each, human, monitor,
                stagger=min(plan.pause_mean, each / 3), seed=k,
            ))
    runs = []
    for target, parts in slices.items():
        name = f"{prof.prefix}human-{people}-{target}"
        run = combine(name, target, people, True, parts)
        runs.append(run)
        _log(_line(run))
    return runs


async def saturation_ramp(
    plan: Plan, prof: Profile, factories: dict[str, Factory], monitor: Monitor,
    t0: float, out: Measured,
) -> None:
    """Ramp the people with no pause until neither path rises any more."""
    # The ramp goes up in step for both paths, each level through the gateway
    # and then straight to Rasa, so both meet the same background load.
    best = {"widget": 0.0, "rasa": 0.0}
    flat = {"widget": 0, "rasa": 0}
    for people in SATURATION_LEVELS:
        if prof.budgeted and (
            time.perf_counter() - t0 > BUDGET_S - 2 * plan.step_seconds - 30
        ):
            out.notes.append(
                f"the saturation ramp stopped before {people} people: time budget"
            )
            break
        for target in ("widget", "rasa"):
            run = await run_load(
                f"{prof.prefix}saturation-{people}-{target}", target,
                factories[target], people, plan.step_seconds, no_pause, monitor,
            )
            out.saturation.append(run)
            _log(_line(run))
            rate = run.overall["msg_per_s"]
            flat[target] = 0 if rate > best[target] * 1.03 else flat[target] + 1
            best[target] = max(best[target], rate)
        if min(flat.values()) >= 2:  # two levels without a real rise: saturated
            break


async def _runs(
    plan: Plan, prof: Profile, stack: Stack, monitor: Monitor, t0: float,
    telegram: TelegramPath | None = None,
) -> Measured:
    """Warm up, then human pace, the saturation ramp and the profile."""
    out = Measured()
    limits = httpx.Limits(max_connections=400, max_keepalive_connections=200)
    timeout = httpx.Timeout(drv.REQUEST_TIMEOUT_S, connect=5.0)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as http:
        factories = channel_factories(http, stack, telegram)
        _log(f"{prof.label}: warming up (not recorded) ...")
        for target, channel, people, seconds in prof.warm_up:
            await run_load("warm-up", target, factories[channel], people, seconds,
                           no_pause, monitor)
        human = human_pace(plan, prof.pace_seed)  # one stream for every level
        for people in prof.human_levels:
            out.human.extend(
                await human_runs(plan, prof, factories, human, monitor, people)
            )
        await saturation_ramp(plan, prof, factories, monitor, t0, out)
        await _profile(plan, prof, factories["widget"], monitor, out, t0)
    return out


async def _profile(
    plan: Plan, prof: Profile, widget: Factory, monitor: Monitor, out: Measured,
    t0: float,
) -> None:
    """Sample every service with py-spy under the gateway's peak load, if we can."""
    py_spy = find_py_spy()
    if py_spy is None:
        out.notes.append("no profile: py-spy is not installed (pip install py-spy)")
        return
    if prof.budgeted and time.perf_counter() - t0 > BUDGET_S - plan.step_seconds - 25:
        out.notes.append("no profile: time budget")
        return
    steps = [r for r in out.saturation if r.target == "widget"]
    people = max(steps, key=lambda r: r.overall["msg_per_s"]).people if steps else 8
    out.profile = await profile_at(plan, py_spy, people, widget, monitor)


async def profile_at(
    plan: Plan, py_spy: str, people: int,
    widget: Factory, monitor: Monitor,
) -> dict[str, Any]:
    """py-spy every service (workers included) while ``people`` use the widget."""
    pids = {name: p.pid for name, p in monitor.procs.items()}
    seconds = plan.step_seconds
    _log(f"profiling with py-spy: {people} people via the widget, {seconds:.0f} s ...")
    load = asyncio.create_task(
        run_load(f"profile-{people}-widget", "widget", widget, people,
                 seconds + 2, no_pause, monitor)
    )
    await asyncio.sleep(1.0)
    profiles = await record(py_spy, pids, seconds, BENCH_DIR)
    run = await load
    return {
        "rate": RATE_HZ,
        "people": people,
        "seconds": seconds,
        "msg_per_s": run.overall["msg_per_s"],
        "processes": {
            name: {
                "samples": prof.samples,
                "top_inclusive": top_lines(prof, 12),
                "inclusive_share": {
                    f: round(c / prof.samples, 4)
                    for f, c in prof.inclusive.most_common(150)
                } if prof.samples else {},
                "top_self": [
                    f"{c / prof.samples:5.1%}  {f}"
                    for f, c in prof.self_time.most_common(8)
                ] if prof.samples else [],
            }
            for name, prof in profiles.items()
        },
    }


def _line(run: RunResult) -> str:
    o = run.overall
    return (
        f"{run.name}: {o['turns']:.0f} replies, {o['msg_per_s']:.1f} msg/s, "
        f"p50 {o['p50']:.0f} ms, p95 {o['p95']:.0f} ms, errors {o['errors']:.0f}"
    )


def console_pages(*, quick: bool) -> dict[str, Any]:
    """The console's queue and search pages at 10,000 conversations
    (scripts/bench_console.py, its own process and throwaway databases)."""
    import subprocess

    count = "2000" if quick else "10000"
    _log(f"console pages with {count} conversations (SQLite and PostgreSQL) ...")
    done = subprocess.run(  # noqa: S603 (our own script, fixed arguments)
        [sys.executable, "-m", "scripts.bench_console", "--count", count],
        capture_output=True, text=True, cwd=ROOT, timeout=900, check=False,
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:] or ["failed"]}
    return dict(json.loads(done.stdout))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or re-render it) and write docs/benchmarks.md."""
    from scripts.bench_report import load_results, write_report

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="short runs (a smoke test, not for the report)")
    parser.add_argument("--report-only", action="store_true",
                        help="re-render docs/benchmarks.md from results.json")
    args = parser.parse_args(argv)
    if args.report_only:
        data = load_results(RESULTS)
    else:
        result = asyncio.run(bench(QUICK if args.quick else Plan()))
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        data = asdict(result)
        data["console"] = console_pages(quick=args.quick)
        data["quick"] = args.quick
        RESULTS.write_text(json.dumps(data, indent=1), encoding="utf-8")
        shutil.rmtree(BENCH_DIR / "tmp", ignore_errors=True)
    path = write_report(data, quick=bool(data.get("quick")))
    _log(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
