"""Start and stop Front Door's processes: Rasa, the action server and the gateway.

Used by `frontdoor run` (`make run`), the end-to-end tests and `make bench`, so
all three start the services the same way. Rasa and the action server listen on
127.0.0.1 only; Rasa's HTTP API needs the token.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bot.settings import PROJECT_ROOT

RASA_BIN = PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"
APP_PYTHON = PROJECT_ROOT / ".venv" / "bin" / "python"
MODEL = PROJECT_ROOT / "models" / "frontdoor.tar.gz"


def free_port() -> int:
    """Return a TCP port on loopback that is free now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Service:
    """One child process and how to tell it is ready."""

    name: str
    argv: list[str]
    env: dict[str, str]
    ready_url: str
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 (argv built here, no shell)
            self.argv,
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def is_ready(self) -> bool:
        try:
            response = httpx.get(self.ready_url, timeout=2.0)
        except httpx.HTTPError:
            return False
        if response.status_code != 200:
            return False
        if self.name == "rasa":
            return bool(response.json().get("model_file"))
        return True

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@dataclass
class Stack:
    """The running services and their addresses."""

    database_url: str
    rasa_port: int
    action_port: int
    gateway_port: int
    rasa_token: str
    services: list[Service] = field(default_factory=list)

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def action_url(self) -> str:
        return f"http://127.0.0.1:{self.action_port}/webhook"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()


def child_env() -> dict[str, str]:
    """Return the environment for our child processes, Rasa's included.

    The project root is importable (rasa_addons, actions), TensorFlow is quiet and
    Rasa never phones home. TensorFlow runs the sentence encoder on one thread: a
    message at a time is bound by reading the weights, a second thread only takes
    the core the gateway and the action server need (docs/featurizers.md).
    """
    env = dict(
        os.environ,
        PYTHONPATH=str(PROJECT_ROOT),
        TF_CPP_MIN_LOG_LEVEL="3",
        RASA_TELEMETRY_ENABLED="false",
    )
    env.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    env.setdefault("TF_NUM_INTEROP_THREADS", "1")
    return env


def _env(stack: Stack, extra: dict[str, str] | None) -> dict[str, str]:
    env = child_env()
    env.update(
        {
            "DATABASE_URL": stack.database_url,
            "RASA_URL": stack.rasa_url,
            "RASA_TOKEN": stack.rasa_token,
            "ACTION_SERVER_URL": stack.action_url,
            "GATEWAY_PORT": str(stack.gateway_port),
            "SANIC_HOST": "127.0.0.1",
            "FRONTDOOR_WARM_RESOLVER": "1",
        }
    )
    env.update(extra or {})
    return env


def build_stack(
    *,
    database_url: str,
    rasa_token: str,
    log_dir: Path,
    rasa_port: int | None = None,
    action_port: int | None = None,
    gateway_port: int | None = None,
    with_rasa: bool = True,
    with_actions: bool = True,
    with_gateway: bool = True,
    extra_env: dict[str, str] | None = None,
    model: Path = MODEL,
) -> Stack:
    """Describe the services (not started yet) on the given or free ports."""
    stack = Stack(
        database_url=database_url,
        rasa_port=rasa_port or free_port(),
        action_port=action_port or free_port(),
        gateway_port=gateway_port or free_port(),
        rasa_token=rasa_token,
    )
    env = _env(stack, extra_env)
    if with_actions:
        stack.services.append(
            Service(
                "actions",
                [
                    str(APP_PYTHON),
                    "-m",
                    "rasa_sdk",
                    "--actions",
                    "actions",
                    "-p",
                    str(stack.action_port),
                    "--quiet",
                ],
                env,
                f"http://127.0.0.1:{stack.action_port}/health",
                log_dir / "actions.log",
            )
        )
    if with_rasa:
        stack.services.append(
            Service(
                "rasa",
                [
                    str(RASA_BIN),
                    "run",
                    "--enable-api",
                    "--auth-token",
                    rasa_token,
                    "-i",
                    "127.0.0.1",
                    "-p",
                    str(stack.rasa_port),
                    "--model",
                    str(model),
                    "--endpoints",
                    "endpoints.yml",
                    "--credentials",
                    "credentials.yml",
                ],
                env,
                f"{stack.rasa_url}/status?token={rasa_token}",
                log_dir / "rasa.log",
            )
        )
    if with_gateway:
        stack.services.append(
            Service(
                "gateway",
                [
                    str(APP_PYTHON),
                    "-m",
                    "uvicorn",
                    "--factory",
                    "bot.gateway.app:create_app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(stack.gateway_port),
                    "--no-access-log",
                    # open widget event streams must not hold up a shutdown
                    "--timeout-graceful-shutdown",
                    "3",
                ],
                env,
                f"{stack.gateway_url}/healthz",
                log_dir / "gateway.log",
            )
        )
    return stack


def start(stack: Stack, *, timeout: float = 240.0) -> dict[str, float]:
    """Start every service and wait until each is ready; return seconds to ready."""
    started = time.monotonic()
    for service in stack.services:
        service.start()
    ready: dict[str, float] = {}
    while len(ready) < len(stack.services):
        for service in stack.services:
            if service.name in ready:
                continue
            assert service.proc is not None
            if service.proc.poll() is not None:
                stack.stop()
                raise RuntimeError(
                    f"{service.name} exited with {service.proc.returncode}; "
                    f"see {service.log_path}"
                )
            if service.is_ready():
                ready[service.name] = round(time.monotonic() - started, 2)
        if time.monotonic() - started > timeout:
            stack.stop()
            missing = [s.name for s in stack.services if s.name not in ready]
            raise RuntimeError(f"not ready after {timeout:.0f} s: {', '.join(missing)}")
        time.sleep(0.5)
    return ready


@contextmanager
def running(**kwargs: object) -> Iterator[Stack]:
    """Start a stack for the duration of a with-block."""
    stack = build_stack(**kwargs)  # type: ignore[arg-type]
    start(stack)
    try:
        yield stack
    finally:
        stack.stop()
