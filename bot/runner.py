"""Start, stop and supervise Front Door's processes: Rasa, the action server and
the gateway.

Used by `frontdoor run` (`make run`), the end-to-end tests and `make bench`, so
all three start the services the same way. Rasa and the action server listen on
127.0.0.1 only; Rasa's HTTP API needs the token. `Supervisor` restarts a service
that exits, with backoff (`next_restart`), after stopping its whole process group.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bot.backoff import Backoff
from bot.settings import PROJECT_ROOT, get_settings

logger = logging.getLogger(__name__)

RASA_BIN = PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"
RASA_PYTHON = PROJECT_ROOT / ".venv-rasa" / "bin" / "python"
APP_PYTHON = PROJECT_ROOT / ".venv" / "bin" / "python"
MODEL = PROJECT_ROOT / "models" / "frontdoor.tar.gz"
# The gateway's graceful shutdown outlasts a Rasa call (rasa_timeout_s) by this
# much, so a turn in flight is answered and stored before the process exits.
SHUTDOWN_MARGIN_S = 4.0


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
    # sent with the readiness request (Rasa's token: a header, never the URL)
    ready_headers: dict[str, str] = field(default_factory=dict, repr=False)
    # How long a SIGTERM may take before the group is killed.
    stop_timeout_s: float = 10.0
    started_at: float = 0.0  # time.monotonic() of the last start
    _stopped: bool = field(default=False, repr=False)

    def start(self) -> None:
        """Start the process in a session (and process group) of its own."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(  # noqa: S603 (argv built here, no shell)
                self.argv,
                cwd=PROJECT_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started_at = time.monotonic()
        self._stopped = False

    @property
    def running(self) -> bool:
        """Whether the main process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def is_ready(self) -> bool:
        """Return whether the service answers its readiness URL."""
        try:
            response = httpx.get(
                self.ready_url, timeout=2.0, headers=self.ready_headers
            )
        except httpx.HTTPError:
            return False
        if response.status_code != 200:
            return False
        if self.name == "rasa":
            try:
                return bool(response.json().get("model_file"))
            except ValueError:
                return False
        return True

    def stop(self, timeout: float | None = None) -> None:
        """Stop the process and everything in its process group.

        The group is signalled even when the main process has already died: the
        action server's Sanic workers outlive a killed parent and keep its port.
        """
        if self.proc is None or self._stopped:
            return
        proc, pgid = self.proc, self.proc.pid  # a session leader: pgid == pid
        # Once the group is gone its id may be reused: never signal it again.
        self._stopped = True
        timeout = self.stop_timeout_s if timeout is None else timeout
        _signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        while group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.poll() is None or group_alive(pgid):
            _signal_group(pgid, signal.SIGKILL)
            proc.wait()
            deadline = time.monotonic() + 5.0
            while group_alive(pgid) and time.monotonic() < deadline:
                time.sleep(0.05)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def group_alive(pgid: int) -> bool:
    """Return whether a live (not zombie) process is left in process group ``pgid``."""
    proc_dir = Path("/proc")
    if not proc_dir.is_dir():  # not Linux: a zombie counts as alive
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for entry in proc_dir.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in "ZX":
            return True
    return False


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


# What Rasa gets of the environment: the basics a process needs, its own
# settings and the two URLs endpoints.yml reads, its token (rasa_addons/run.py);
# never the app's secrets (session secret, Telegram token, database password
# beyond the tracker store's URL).
RASA_ENV_NAMES = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "LANG",
        "TZ",
        "TMPDIR",
        "TEMP",
        "TMP",
        "PYTHONPATH",
        "PYTHONUNBUFFERED",
        "LD_LIBRARY_PATH",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "TRACKER_STORE_URL",
        "ACTION_SERVER_URL",
        "RASA_TOKEN",
        "LOG_LEVEL",
        "HF_HUB_OFFLINE",
        "TRANSFORMERS_OFFLINE",
    }
)
RASA_ENV_PREFIXES = ("LC_", "TF_", "RASA_", "SANIC_", "OMP_", "FRONTDOOR_ONNX_")
# Names that hold a secret: the action server is not given them.
SECRET_NAMES = frozenset(
    {"SESSION_SECRET", "RASA_TOKEN", "TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET"}
)


def only_for_rasa(env: dict[str, str]) -> dict[str, str]:
    """Return the part of ``env`` Rasa needs (RASA_ENV_NAMES and prefixes)."""
    return {
        k: v
        for k, v in env.items()
        if k in RASA_ENV_NAMES or k.startswith(RASA_ENV_PREFIXES)
    }


def without_secrets(env: dict[str, str]) -> dict[str, str]:
    """Return ``env`` without the secrets (for the action server)."""
    return {
        k: v
        for k, v in env.items()
        if k not in SECRET_NAMES
        and not any(w in k for w in ("SECRET", "TOKEN", "PASSWORD"))
    }


def tracker_store_url(database_url: str) -> str:
    """Return the URL Rasa's SQL tracker store opens for the app's database.

    Rasa's environment has SQLAlchemy 1.4 with psycopg2, the app's has 2.0 with
    psycopg 3: the same database, named for the other driver. SQLite waits for
    the app's writers as long as the app waits for Rasa's (30 s).
    """
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql+psycopg2://" + database_url[len(prefix) :]
    if database_url.startswith("sqlite:///"):
        separator = "&" if "?" in database_url else "?"
        if "timeout=" in database_url:
            return database_url
        return f"{database_url}{separator}timeout=30"
    return database_url


def redis_lock_store(redis_url: str, prefix: str) -> str:
    """Return the ``lock_store`` section for Rasa's endpoints: its Redis lock store.

    Rasa's own Redis lock store lets it run several Sanic workers; the gateway's
    per-conversation lock (PostgreSQL) is what keeps a conversation's messages
    in order, as Rasa's reads, changes and writes a lock in three steps.
    """
    url = urlsplit(redis_url)
    db = (url.path or "/0").lstrip("/") or "0"
    # Rasa takes an alphanumeric key prefix only (else it falls back to none)
    key_prefix = "".join(ch for ch in f"{prefix}rasa" if ch.isalnum())
    lines = [
        "lock_store:",
        "  type: redis",
        f"  url: {url.hostname or '127.0.0.1'}",
        f"  port: {url.port or 6379}",
        f"  db: {db}",
        f"  key_prefix: {key_prefix}",
        f"  use_ssl: {'true' if url.scheme == 'rediss' else 'false'}",
    ]
    if url.username:
        lines.append(f"  username: {url.username}")
    if url.password:
        lines.append(f"  password: {url.password}")
    return "\n".join(lines) + "\n"


def endpoints_file(redis_url: str | None, prefix: str, out_dir: Path) -> Path:
    """endpoints.yml as it is (embedded), or with the Redis lock store (scaled)."""
    base = PROJECT_ROOT / "endpoints.yml"
    if not redis_url:
        return base
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "endpoints.scaled.yml"
    path.write_text(base.read_text() + "\n" + redis_lock_store(redis_url, prefix))
    path.chmod(0o600)  # it may hold the Redis password
    return path


def _env(stack: Stack, extra: dict[str, str] | None) -> dict[str, str]:
    env = child_env()
    env.update(
        {
            "DATABASE_URL": stack.database_url,
            "TRACKER_STORE_URL": tracker_store_url(stack.database_url),
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


def proxy_args(trusted_proxies: list[str]) -> list[str]:
    """uvicorn's flags for X-Forwarded-For: believed only from these proxies.

    uvicorn trusts 127.0.0.1 by default, so any local caller (or a proxy that
    passes the header through) could spoof the address the widget's and the
    login's rate limits count by.
    """
    if not trusted_proxies:
        return ["--no-proxy-headers"]
    return ["--proxy-headers", "--forwarded-allow-ips", ",".join(trusted_proxies)]


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
    graceful_shutdown_s: float | None = None,
    gateway_workers: int = 1,
    rasa_workers: int = 1,
    redis_url: str | None = None,
    redis_key_prefix: str = "frontdoor",
) -> Stack:
    """Describe the services (not started yet) on the given or free ports.

    ``graceful_shutdown_s``: how long the gateway lets requests in flight finish
    on SIGTERM (default: the Rasa timeout plus a margin).
    """
    if graceful_shutdown_s is None:
        graceful_shutdown_s = get_settings().rasa_timeout_s + SHUTDOWN_MARGIN_S
    stack = Stack(
        database_url=database_url,
        rasa_port=rasa_port or free_port(),
        action_port=action_port or free_port(),
        gateway_port=gateway_port or free_port(),
        rasa_token=rasa_token,
    )
    env = _env(stack, {"LOG_DIR": str(log_dir.resolve()), **(extra_env or {})})
    env["GATEWAY_WORKERS"] = str(gateway_workers)
    env["RASA_WORKERS"] = str(rasa_workers)
    if redis_url:
        env["REDIS_URL"] = redis_url
        env["REDIS_KEY_PREFIX"] = redis_key_prefix
    rasa_env = dict(env, SANIC_WORKERS=str(rasa_workers))
    endpoints = endpoints_file(redis_url, redis_key_prefix, log_dir)
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
                without_secrets(env),
                f"http://127.0.0.1:{stack.action_port}/health",
                log_dir / "actions.log",
            )
        )
    if with_rasa:
        stack.services.append(
            Service(
                "rasa",
                [
                    # `rasa run`, its token from RASA_TOKEN and read from a
                    # header: never on this command line (rasa_addons/run.py)
                    str(RASA_PYTHON),
                    "-m",
                    "rasa_addons.run",
                    "run",
                    "--enable-api",
                    "-i",
                    "127.0.0.1",
                    "-p",
                    str(stack.rasa_port),
                    "--model",
                    str(model),
                    "--endpoints",
                    str(endpoints),
                    "--credentials",
                    "credentials.yml",
                ],
                only_for_rasa(rasa_env),
                f"{stack.rasa_url}/status",
                log_dir / "rasa.log",
                ready_headers={"Authorization": f"Bearer {rasa_token}"},
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
                    *proxy_args(get_settings().trusted_proxies),
                    # A turn in flight is answered before the gateway exits; an
                    # open widget event stream holds a shutdown this long at most.
                    "--timeout-graceful-shutdown",
                    f"{graceful_shutdown_s:g}",
                    *(("--workers", str(gateway_workers)) * (gateway_workers > 1)),
                ],
                env,
                f"{stack.gateway_url}/healthz",
                log_dir / "gateway.log",
                # the requests in flight, then Telegram's turns (app.py lifespan)
                stop_timeout_s=2 * graceful_shutdown_s + 5.0,
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


# ------------------------------------------------------------------ supervision


@dataclass(frozen=True)
class RestartPolicy:
    """How soon a service that exited is started again."""

    backoff: Backoff = field(default_factory=Backoff)
    # A run at least this long was a healthy one: the next crash starts the
    # backoff again from its first wait.
    stable_after_s: float = 60.0
    # A service that was ready is asked every probe_every_s whether it still is;
    # one that has not answered for hung_after_s is restarted as if it had
    # crashed. Generous: Rasa under load answers its status late, not never.
    probe_every_s: float = 10.0
    hung_after_s: float = 60.0


def next_restart(
    policy: RestartPolicy, *, failures: int, uptime_s: float
) -> tuple[int, float]:
    """Return (crashes in a row, seconds to wait) after a service ran ``uptime_s``.

    ``failures`` is the count of crashes in a row before this one. The wait
    doubles with each crash in a row, up to the backoff's cap.
    """
    in_a_row = 1 if uptime_s >= policy.stable_after_s else max(failures, 0) + 1
    return in_a_row, policy.backoff.delay(in_a_row)


@dataclass
class _Watch:
    """What the supervisor knows of one service."""

    started_at: float
    ready: bool = True
    failures: int = 0
    restarts: int = 0
    restart_at: float | None = None
    answered_at: float = 0.0  # the last time its readiness check passed
    probed_at: float = 0.0


class Supervisor:
    """Keep a started stack running: restart any service that exits, with backoff.

    A service that exits, or stops answering its readiness check for
    ``hung_after_s``, has its whole process group stopped first (its workers
    would otherwise keep the port), then is started again after
    ``next_restart``'s delay; every exit, restart and recovery is logged.
    """

    def __init__(
        self,
        stack: Stack,
        *,
        policy: RestartPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        interval_s: float = 0.5,
    ) -> None:
        self.stack = stack
        self.policy = policy or RestartPolicy()
        self.clock = clock
        self.interval_s = interval_s
        now = clock()
        self.watches = {
            s.name: _Watch(started_at=s.started_at or now, answered_at=now)
            for s in stack.services
        }

    def restarts(self, name: str) -> int:
        """Return how many times ``name`` has been restarted."""
        return self.watches[name].restarts

    def check(self) -> None:
        """Look at every service once: notice exits and hangs, restart, notice
        recovery."""
        for service in self.stack.services:
            watch = self.watches[service.name]
            now = self.clock()
            if watch.restart_at is not None:
                if now >= watch.restart_at:
                    self._restart(service, watch, now)
            elif not service.running:
                self._exited(service, watch, now)
            elif not watch.ready:
                if service.is_ready():
                    self._recovered(service, watch, self.clock())
            elif now - watch.probed_at >= self.policy.probe_every_s:
                self._probe(service, watch, now)

    def _probe(self, service: Service, watch: _Watch, now: float) -> None:
        watch.probed_at = now
        if service.is_ready():
            watch.answered_at = self.clock()
            return
        silent = now - watch.answered_at
        if silent < self.policy.hung_after_s:
            return
        assert service.proc is not None
        watch.failures, delay = next_restart(
            self.policy, failures=watch.failures, uptime_s=now - watch.started_at
        )
        logger.warning(
            "%s (pid %d) has not answered for %.0f s; stopping it, restarting in "
            "%.1f s (crash %d in a row); log: %s",
            service.name,
            service.proc.pid,
            silent,
            delay,
            watch.failures,
            service.log_path,
        )
        service.stop(timeout=2.0)  # a hung process seldom honours SIGTERM
        watch.ready = False
        watch.restart_at = self.clock() + delay

    def _exited(self, service: Service, watch: _Watch, now: float) -> None:
        assert service.proc is not None
        code, pid = service.proc.returncode, service.proc.pid
        uptime = now - watch.started_at
        watch.failures, delay = next_restart(
            self.policy, failures=watch.failures, uptime_s=uptime
        )
        logger.warning(
            "%s (pid %d) exited with %s after %.1f s; restarting in %.1f s "
            "(crash %d in a row); log: %s",
            service.name,
            pid,
            _describe_exit(code),
            uptime,
            delay,
            watch.failures,
            service.log_path,
        )
        service.stop()  # its process group: workers that outlived it
        watch.ready = False
        watch.restart_at = self.clock() + delay

    def _restart(self, service: Service, watch: _Watch, now: float) -> None:
        try:
            service.start()
        except OSError as exc:
            logger.error("%s could not be started: %s", service.name, exc)
            watch.failures, delay = next_restart(
                self.policy, failures=watch.failures, uptime_s=0.0
            )
            watch.restart_at = now + delay
            return
        assert service.proc is not None
        watch.started_at, watch.restart_at = now, None
        watch.restarts += 1
        logger.warning(
            "%s restarted (pid %d, restart %d)",
            service.name,
            service.proc.pid,
            watch.restarts,
        )

    def _recovered(self, service: Service, watch: _Watch, now: float) -> None:
        watch.ready = True
        watch.answered_at = watch.probed_at = now
        logger.warning(
            "%s ready again after %.1f s", service.name, now - watch.started_at
        )

    def watch(self, stop: threading.Event) -> None:
        """Check the services every ``interval_s`` until ``stop`` is set."""
        while not stop.is_set():
            try:
                self.check()
            except Exception:  # the supervisor itself must not die
                logger.exception("supervisor check failed")
            stop.wait(self.interval_s)


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"code {code}"
