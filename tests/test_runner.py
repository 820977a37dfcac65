"""bot.runner: the restart backoff (pure), the tracker store's URL, and stopping a
service's whole process group (real processes)."""

from __future__ import annotations

import itertools
import logging
import os
import re
import signal
import sys
import time
from pathlib import Path

import pytest

from bot.backoff import Backoff
from bot.db.base import Base
from bot.runner import (
    RestartPolicy,
    Service,
    Stack,
    Supervisor,
    build_stack,
    free_port,
    group_alive,
    next_restart,
    tracker_store_url,
)

POLICY = RestartPolicy(Backoff(first_s=0.5, factor=2.0, max_s=30.0), 60.0)


@pytest.mark.unit
def test_crashes_in_a_row_double_the_wait_up_to_the_cap() -> None:
    failures, waits = 0, []
    for _ in range(9):
        failures, wait = next_restart(POLICY, failures=failures, uptime_s=1.0)
        waits.append(wait)
    assert failures == 9
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


@pytest.mark.unit
def test_a_long_healthy_run_starts_the_backoff_again() -> None:
    assert next_restart(POLICY, failures=6, uptime_s=60.0) == (1, 0.5)
    assert next_restart(POLICY, failures=6, uptime_s=59.9) == (7, 30.0)
    assert next_restart(POLICY, failures=0, uptime_s=0.0) == (1, 0.5)


@pytest.mark.unit
def test_backoff_never_overflows_and_waits_nothing_before_the_first_try() -> None:
    backoff = Backoff(first_s=1.0, factor=2.0, max_s=60.0)
    assert backoff.delay(0) == 0.0
    assert backoff.delay(1) == 1.0
    assert backoff.delay(10_000) == 60.0


@pytest.mark.unit
@pytest.mark.parametrize(
    ("app_url", "rasa_url"),
    [
        (
            "postgresql+psycopg://fd@db.example:5432/frontdoor",
            "postgresql+psycopg2://fd@db.example:5432/frontdoor",
        ),
        (
            "postgresql://fd:pw@127.0.0.1/frontdoor?sslmode=require",
            "postgresql+psycopg2://fd:pw@127.0.0.1/frontdoor?sslmode=require",
        ),
        ("postgres://h/db", "postgresql+psycopg2://h/db"),
        (
            "sqlite:////srv/fd/var/frontdoor.db",
            "sqlite:////srv/fd/var/frontdoor.db?timeout=30",
        ),
        ("sqlite:///x.db?timeout=5", "sqlite:///x.db?timeout=5"),
    ],
)
def test_tracker_store_url_names_the_rasa_environments_driver(
    app_url: str, rasa_url: str
) -> None:
    assert tracker_store_url(app_url) == rasa_url


@pytest.mark.unit
def test_rasa_is_given_the_tracker_store_and_the_gateway_outlasts_a_rasa_call(
    tmp_path: Path,
) -> None:
    stack = build_stack(
        database_url="sqlite:///" + str(tmp_path / "fd.db"),
        rasa_token="t",
        log_dir=tmp_path,
        extra_env={"RASA_TIMEOUT_S": "8"},
    )
    rasa = stack.service("rasa")
    assert rasa.env["TRACKER_STORE_URL"] == (
        "sqlite:///" + str(tmp_path / "fd.db") + "?timeout=30"
    )
    gateway = stack.service("gateway")
    grace = float(gateway.argv[gateway.argv.index("--timeout-graceful-shutdown") + 1])
    from bot.settings import get_settings

    assert grace > get_settings().rasa_timeout_s
    assert gateway.stop_timeout_s > grace


@pytest.mark.unit
def test_rasas_table_is_not_one_of_the_apps() -> None:
    # Rasa's SQL tracker store creates `events` in the app's database.
    assert "events" not in Base.metadata.tables


# A parent that starts a worker in its own process group, as Sanic's server
# manager does, then waits: killing the parent leaves the worker running.
PARENT = (
    "import subprocess, sys, time\n"
    "worker = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(99)'])\n"
    "print(worker.pid, flush=True)\n"
    "time.sleep(120)\n"
)


def _wait(what: str, probe: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_stop_ends_the_workers_of_a_parent_that_was_killed(tmp_path: Path) -> None:
    log = tmp_path / "svc.log"
    service = Service(
        "svc",
        [sys.executable, "-c", PARENT],
        dict(os.environ),
        "",
        log,
        stop_timeout_s=5.0,
    )
    service.start()
    assert service.proc is not None
    _wait("the worker's pid", lambda: log.read_text().strip())
    worker = int(log.read_text().split()[0])
    os.kill(service.proc.pid, signal.SIGKILL)
    _wait("the parent's death", lambda: not service.running)
    assert group_alive(service.proc.pid) and _alive(worker)  # the worker lives on

    service.stop()

    assert not group_alive(service.proc.pid)
    assert not _alive(worker)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie left for an init that never reaps is dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in "ZX"


def test_supervisor_restarts_a_crashing_service_with_growing_waits(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    service = Service(
        "crashy",
        [sys.executable, "-c", "raise SystemExit(3)"],
        dict(os.environ),
        f"http://127.0.0.1:{free_port()}/",
        tmp_path / "crashy.log",
    )
    stack = Stack("sqlite://", 0, 0, 0, "", services=[service])
    policy = RestartPolicy(Backoff(first_s=0.1, factor=2.0, max_s=0.4), 60.0)
    service.start()
    supervisor = Supervisor(stack, policy=policy)
    starts: list[float] = []
    deadline = time.monotonic() + 20
    with caplog.at_level(logging.WARNING, logger="bot.runner"):
        while supervisor.restarts("crashy") < 4:
            assert time.monotonic() < deadline, caplog.text
            before = supervisor.restarts("crashy")
            supervisor.check()
            if supervisor.restarts("crashy") > before:
                starts.append(time.monotonic())
            time.sleep(0.01)
    waits = re.findall(r"restarting in ([0-9.]+) s", caplog.text)
    assert waits[:4] == ["0.1", "0.2", "0.4", "0.4"], caplog.text  # doubling, capped
    # ... and each restart really waited that long after the crash before it.
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert all(gap >= float(wait) for gap, wait in zip(gaps, waits[1:], strict=False))
    assert "crashy (pid" in caplog.text and "exited with code 3" in caplog.text
    assert "restarted (pid" in caplog.text
    service.stop()


def test_supervisor_restarts_a_service_that_stops_answering(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    service = Service(
        "server",
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        dict(os.environ),
        f"http://127.0.0.1:{port}/",
        tmp_path / "server.log",
        stop_timeout_s=5.0,
    )
    stack = Stack("sqlite://", 0, 0, 0, "", services=[service])
    policy = RestartPolicy(
        Backoff(first_s=0.1), stable_after_s=60.0, probe_every_s=0.2, hung_after_s=1.0
    )
    service.start()
    _wait("the server to answer", service.is_ready)
    supervisor = Supervisor(stack, policy=policy)
    assert service.proc is not None
    hung = service.proc.pid
    try:
        os.kill(hung, signal.SIGSTOP)  # alive, but answers nothing
        deadline = time.monotonic() + 30
        with caplog.at_level(logging.WARNING, logger="bot.runner"):
            while not (
                supervisor.restarts("server") and supervisor.watches["server"].ready
            ):
                assert time.monotonic() < deadline, caplog.text
                supervisor.check()
                time.sleep(0.02)
        assert f"server (pid {hung}) has not answered for" in caplog.text
        assert service.proc.pid != hung and service.is_ready()
        assert not group_alive(hung)
    finally:
        service.stop()
