"""The `frontdoor` command line: database, directory, look-ups and advisers."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from bot.settings import get_settings

app = typer.Typer(help="Front Door command line.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
directory_app = typer.Typer(
    help="The directory of LIOs, places and guidance.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(directory_app, name="directory")

console = Console()
err = Console(stderr=True, soft_wrap=True)
F = TypeVar("F", bound=Callable[..., Any])


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def friendly_errors(func: F) -> F:
    """Turn the failures a user can fix into one line saying what to do."""
    from bot.directory.importer import DataFileError

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DataFileError as exc:
            err.print(
                f"error: bad data file {exc}. Fix the file (or restore it with git) and re-run; the database was not changed."
            )
            raise typer.Exit(2) from None
        except OperationalError as exc:
            url = _redact(get_settings().database_url)
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            err.print(
                f"error: cannot use the database at {url} ({reason}). Check DATABASE_URL and that the server is running."
            )
            raise typer.Exit(2) from None
        except SQLAlchemyError as exc:
            err.print(
                f"error: database error: {exc.__class__.__name__}: {str(exc).splitlines()[0]}"
            )
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


@db_app.command("upgrade")
@friendly_errors
def db_upgrade(revision: str = "head") -> None:
    """Apply the database migrations."""
    from bot.db.migrate import upgrade

    upgrade(revision=revision)
    console.print(f"database migrated ({_redact(get_settings().database_url)})")


@directory_app.command("import")
@friendly_errors
def directory_import(
    data_dir: Path = typer.Option(None, help="Folder of the data files."),
    force: bool = typer.Option(False, help="Import even if the data is unchanged."),
) -> None:
    """Load the directory data in one transaction (skipped if unchanged)."""
    from bot.db.session import session_scope
    from bot.directory.importer import import_directory

    folder = data_dir or get_settings().directory_data_dir
    with Progress(
        TextColumn("[bold]importing[/] {task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("directory", total=None)

        def advance(stage: str, n: int) -> None:
            progress.update(task, advance=n, description=stage)

        with session_scope() as session:
            counts = import_directory(session, folder, force=force, progress=advance)
    if counts is None:
        console.print("directory already loaded and unchanged: nothing to do")
        return
    console.print(
        "directory imported: "
        + ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in counts.items())
    )


@directory_app.command("coverage")
@friendly_errors
def directory_coverage() -> None:
    """Print per nation how many LADs have a local LIO or only a fallback."""
    from bot.db.session import session_scope
    from bot.directory.service import coverage

    table = Table(
        "nation", "LADs", "local LIO", "regional only", "national fallback only"
    )
    with session_scope() as session:
        rows = coverage(session)
    for r in rows:
        table.add_row(
            r.nation.value,
            str(r.lads),
            str(r.with_local),
            str(r.regional_only),
            str(r.fallback_only),
        )
    console.print(table)


@app.command("setup")
@friendly_errors
def setup() -> None:
    """Migrate the database and import the directory if it changed."""
    db_upgrade.__wrapped__()  # type: ignore[attr-defined]
    directory_import.__wrapped__(data_dir=None, force=False)  # type: ignore[attr-defined]


@app.command("locate")
@friendly_errors
def locate(text: str) -> None:
    """Find the place in TEXT and print candidates and the best one's organisations."""
    from bot.db.session import session_scope
    from bot.directory.resolver import get_resolver
    from bot.directory.service import organisations_for_lad

    with session_scope() as session:
        resolver = get_resolver()
        result = resolver.resolve(text)
        if not result.candidates:
            console.print("no place found")
            raise typer.Exit(1)
        table = Table(
            "place", "kind", "LAD", "LAD name", "nation", "matched", "span", "score"
        )
        for c in result.candidates:
            table.add_row(
                c.name,
                c.kind,
                c.lad_code or "-",
                c.lad_name or "-",
                c.nation or "-",
                c.matched_text,
                f"{c.span[0]}-{c.span[1]}",
                f"{c.score:.2f}",
            )
        console.print(table)
        best = result.best
        if best is None or best.lad_code is None:
            console.print("ambiguous: the assistant would ask which one is meant")
            return
        area = organisations_for_lad(session, lad_code=best.lad_code)
        assert area is not None
        console.print(
            f"best: {best.name} -> {area.lad_name} ({area.lad_code}), {area.nation.value}"
        )
        if area.is_fallback:
            console.print("no local organisation on record; national/regional bodies:")
        for org in area.recommended:
            console.print(
                f"  - {org.name} [{org.kind}] {org.website or '(no website on record)'}"
            )


@app.command("run")
@friendly_errors
def run() -> None:
    """Start Rasa, the action server and the gateway; stop them with Ctrl-C."""
    import signal as _signal
    import time

    from bot.runner import build_stack, start

    settings = get_settings()
    rasa_port = int(settings.rasa_url.rsplit(":", 1)[1].split("/")[0])
    action_port = int(settings.action_server_url.rsplit(":", 1)[1].split("/")[0])
    stack = build_stack(
        database_url=settings.database_url,
        rasa_token=settings.rasa_token.get_secret_value(),
        log_dir=Path("var/log"),
        rasa_port=rasa_port,
        action_port=action_port,
        gateway_port=settings.gateway_port,
    )
    console.print("starting Rasa, the action server and the gateway (logs in var/log)...")
    try:
        ready = start(stack)
    except RuntimeError as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(1) from None
    console.print(
        "ready in " + ", ".join(f"{name} {secs:.0f} s" for name, secs in ready.items())
    )
    console.print(f"  widget demo page: {stack.gateway_url}/")
    console.print(f"  adviser console:  {stack.gateway_url}/console/")
    console.print("  add an adviser:   .venv/bin/frontdoor advisers add USERNAME --name NAME")
    if settings.telegram_bot_token is None:
        console.print("  Telegram: off (set TELEGRAM_BOT_TOKEN to turn it on; see README)")
    console.print("press Ctrl-C to stop")
    stopping = False

    def _stop(*_args: object) -> None:
        nonlocal stopping
        stopping = True

    _signal.signal(_signal.SIGTERM, _stop)
    try:
        while not stopping:
            for service in stack.services:
                if service.proc is not None and service.proc.poll() is not None:
                    err.print(f"error: {service.name} stopped; see {service.log_path}")
                    stopping = True
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        console.print("stopping...")
        stack.stop()


def main() -> None:
    """Entry point for `python -m bot.cli`."""
    app()


if __name__ == "__main__":
    sys.exit(main())
