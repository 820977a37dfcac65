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
if not console.is_terminal:  # piped output: wide enough for the locate table
    console = Console(width=140)
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
                f"error: bad data file {exc}. Fix the file (or restore it with git) "
                "and re-run; the database was not changed."
            )
            raise typer.Exit(2) from None
        except OperationalError as exc:
            url = _redact(get_settings().database_url)
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            err.print(
                f"error: cannot use the database at {url} ({reason}). "
                "Check DATABASE_URL and that the server is running."
            )
            raise typer.Exit(2) from None
        except SQLAlchemyError as exc:
            err.print(
                f"error: database error: {exc.__class__.__name__}: "
                f"{str(exc).splitlines()[0]}"
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

        report: list[Any] = []
        with session_scope() as session:
            counts = import_directory(
                session, folder, force=force, progress=advance, report=report
            )
    if counts is None:
        console.print("directory already loaded and unchanged: nothing to do")
        return
    console.print(
        "directory imported: "
        + ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in counts.items())
    )
    if report:
        console.print(
            f"{len(report)} operator edit(s) disagree with the new shipped data "
            "(the edits are kept; check them in the console's directory pages):"
        )
        for d in report:
            console.print(f"  {d.describe()}")


@directory_app.command("coverage")
@friendly_errors
def directory_coverage() -> None:
    """Print per nation how many LADs have a local LIO or only a fallback."""
    from sqlalchemy import select

    from bot.db.models import Organisation
    from bot.db.session import session_scope
    from bot.directory.edits import is_stale
    from bot.directory.service import areas_without_local, coverage

    table = Table(
        "nation", "LADs", "local LIO", "regional only", "national fallback only"
    )
    with session_scope() as session:
        rows = coverage(session)
        gaps = [
            (la.nation.value, la.name, la.code) for la in areas_without_local(session)
        ]
        active = session.scalars(
            select(Organisation.last_verified).where(Organisation.active)
        ).all()
        stale = sum(1 for day in active if is_stale(day))
    for r in rows:
        table.add_row(
            r.nation.value,
            str(r.lads),
            str(r.with_local),
            str(r.regional_only),
            str(r.fallback_only),
        )
    console.print(table)
    console.print(f"{len(gaps)} council areas with no local organisation on record:")
    for nation, name, code in gaps:
        console.print(f"  {nation}: {name} ({code})")
    console.print(
        f"{stale} of {len(active)} active organisations not verified for 12 months"
    )


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
    from rich.markup import escape

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
        if best is not None and best.lad_code is None and best.lad_codes:
            console.print(
                f"{best.name} covers {len(best.lad_codes)} council areas: "
                "the assistant asks which one (" + ", ".join(best.lad_codes) + ")"
            )
            return
        if best is None or best.lad_code is None:
            console.print("ambiguous: the assistant would ask which one is meant")
            return
        area = organisations_for_lad(session, lad_code=best.lad_code)
        assert area is not None
        console.print(
            f"best: {best.name} -> {area.lad_name} ({area.lad_code}), "
            f"{area.nation.value}"
        )
        for closed, successor in area.closed:
            instead = f"; instead: {successor.name}" if successor else ""
            console.print(
                escape(
                    f"closed: {closed.name} [{closed.kind}] {closed.closed_note or ''}"
                    f"{instead}"
                )
            )
        if area.is_fallback:
            console.print("no local organisation on record; national/regional bodies:")
        for org in area.recommended:
            checked = (
                f", last checked {org.last_verified:%B %Y}" if org.last_verified else ""
            )
            console.print(
                escape(
                    f"  - {org.name} [{org.kind}, {org.confidence} confidence"
                    f"{checked}] {org.website or '(no website on record)'}"
                )
            )


@app.command("run")
@friendly_errors
def run(
    model: Path | None = typer.Option(
        None, help="Rasa model to serve (default: models/frontdoor.tar.gz)."
    ),
    log_dir: Path = typer.Option(
        Path("var/log"), help="Where each service (and the supervisor) logs."
    ),
) -> None:
    """Start Rasa, the action server and the gateway, keep them running; Ctrl-C
    stops them.

    A service that exits is restarted with backoff (its whole process group
    stopped first); the rest of the stack carries on meanwhile.
    """
    import logging
    import signal as _signal
    import threading

    from bot.runner import MODEL, Supervisor, build_stack, start

    settings = get_settings()
    if problem := settings.profile_problem():
        err.print(f"error: refusing to start: {problem}")
        raise typer.Exit(2)
    log_dir.mkdir(parents=True, exist_ok=True)
    _log_supervision(log_dir / "supervisor.log")
    rasa_port = int(settings.rasa_url.rsplit(":", 1)[1].split("/")[0])
    action_port = int(settings.action_server_url.rsplit(":", 1)[1].split("/")[0])
    stack = build_stack(
        database_url=settings.database_url,
        rasa_token=settings.rasa_token.get_secret_value(),
        log_dir=log_dir,
        rasa_port=rasa_port,
        action_port=action_port,
        gateway_port=settings.gateway_port,
        model=model or MODEL,
        gateway_workers=settings.gateway_workers,
        rasa_workers=settings.rasa_workers,
        redis_url=settings.redis_url,
        redis_key_prefix=settings.redis_key_prefix,
    )
    console.print(
        f"starting Rasa, the action server and the gateway (logs in {log_dir})..."
    )
    try:
        ready = start(stack)
    except RuntimeError as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        stack.stop()
        raise typer.Exit(130) from None
    console.print(
        "ready in " + ", ".join(f"{name} {secs:.0f} s" for name, secs in ready.items())
    )
    console.print(f"  widget demo page: {stack.gateway_url}/")
    console.print(f"  adviser console:  {stack.gateway_url}/console/")
    console.print(f"  health:           {stack.gateway_url}/healthz")
    console.print(
        "  add an adviser:   .venv/bin/frontdoor advisers add USERNAME --name NAME"
    )
    if settings.telegram_bot_token is None:
        console.print(
            "  Telegram: off (set TELEGRAM_BOT_TOKEN to turn it on; see README)"
        )
    console.print("a service that stops is restarted; press Ctrl-C to stop them all")
    stopping = threading.Event()

    def _stop(*_args: object) -> None:
        stopping.set()

    _signal.signal(_signal.SIGTERM, _stop)
    _signal.signal(_signal.SIGINT, _stop)
    try:
        Supervisor(stack).watch(stopping)
    finally:
        console.print("stopping (turns in flight are finished first)...")
        stack.stop()
        logging.getLogger("bot.runner").info("stack stopped")


def _log_supervision(path: Path) -> None:
    """Send the supervisor's log lines to stderr and to ``path``."""
    import logging

    formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    runner_logger = logging.getLogger("bot.runner")
    runner_logger.setLevel(logging.INFO)
    for handler in (logging.StreamHandler(sys.stderr), logging.FileHandler(path)):
        handler.setFormatter(formatter)
        runner_logger.addHandler(handler)


# --------------------------------------------------------------------------------
# Advisers (console accounts)
# --------------------------------------------------------------------------------

advisers_app = typer.Typer(
    help="Adviser accounts for the console.", no_args_is_help=True
)
app.add_typer(advisers_app, name="advisers")


def _read_new_password(password_stdin: bool) -> str:
    """Read a password from stdin (one line) or ask for it twice, hidden."""
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


ROLES = ("adviser", "admin", "national")


def _check_membership(
    session: Any, organisations: list[str], role: str | None
) -> tuple[list[str], str | None]:
    """Check --organisation and --role; return the organisations and the role."""
    from bot.db.repositories import advisers as console_repo

    if role is not None and role not in ROLES:
        err.print(f"error: --role must be one of {', '.join(ROLES)}.")
        raise typer.Exit(2)
    if role in ("adviser", "admin") and not organisations:
        err.print(
            f"error: --role {role} needs --organisation ID (the directory id of "
            "their LIO, e.g. lio123); a national role sees every area."
        )
        raise typer.Exit(2)
    for organisation in organisations:
        if not console_repo.organisation_exists(session, organisation_id=organisation):
            err.print(
                f"error: no organisation {organisation!r} in the directory "
                "(see `frontdoor directory import`)."
            )
            raise typer.Exit(2)
    return list(dict.fromkeys(organisations)), role


def _scope_text(organisations: list[str], role: str | None) -> str:
    if not organisations or role == "national":
        return "national role: they see every area"
    return f"{role or 'adviser'} of {', '.join(organisations)}"


def _audit_team(
    session: Any,
    action: str,
    adviser_id: int,
    detail: str,
    only: list[str | None] | None = None,
) -> None:
    """Audit a change to an adviser from the command line, once per organisation
    (so each organisation's admins read it): "<detail> <role>"."""
    from bot.db.repositories import access
    from bot.privacy import audit

    for m in access.memberships_of(session, adviser_id=adviser_id):
        if only is not None and m.organisation_id not in only:
            continue
        text = detail if action == audit.ADVISER_DEACTIVATED else f"{detail} {m.role}"
        audit.record(
            session,
            action=action,
            actor=audit.cli_actor(),
            organisation_id=m.organisation_id,
            detail=f"{text} (command line)",
        )


@advisers_app.command("add")
@friendly_errors
def advisers_add(
    username: str = typer.Argument(..., help="Sign-in name (stored lower-case)."),
    name: str = typer.Option(..., "--name", help="Name shown to other advisers."),
    organisation: list[str] = typer.Option(  # noqa: B008
        [],
        "--organisation",
        help="Directory id of the adviser's LIO (lio123); repeat for several. "
        "Without it the adviser has a national role (every area).",
    ),
    role: str | None = typer.Option(
        None,
        "--role",
        help="adviser (their organisations' conversations, the default), admin "
        "(also their advisers and audit log) or national (every area).",
    ),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from stdin, not a prompt."
    ),
    languages: str = typer.Option(
        "en", "--languages", help="Languages the adviser answers in: en, cy or cy,en."
    ),
) -> None:
    """Create an adviser account; the password is asked for (never a default)."""
    from bot.console.auth import PASSWORD_MIN_LENGTH, PasswordTooShort, hash_password
    from bot.db.models import AdviserRole
    from bot.db.repositories import advisers as console_repo
    from bot.db.session import session_scope
    from bot.privacy import audit

    username = username.strip().lower()
    if not username or len(username) > 80 or not username.isprintable():
        err.print("error: the username must be 1 to 80 printable characters.")
        raise typer.Exit(2)
    if not name.strip():
        err.print("error: --name must not be empty.")
        raise typer.Exit(2)
    from bot.language import LANGUAGES

    skills = [code.strip().lower() for code in languages.split(",") if code.strip()]
    if not skills or any(code not in LANGUAGES for code in skills):
        err.print("error: --languages takes en, cy or both (cy,en).")
        raise typer.Exit(2)
    url = get_settings().database_url
    with session_scope(url) as session:
        if console_repo.find_adviser(session, username=username) is not None:
            err.print(f"error: an adviser called {username!r} already exists.")
            raise typer.Exit(1)
        organisations, role = _check_membership(session, list(organisation), role)
    password = _read_new_password(password_stdin)
    try:
        password_hash = hash_password(password)
    except PasswordTooShort:
        err.print(
            f"error: the password is too short: use at least {PASSWORD_MIN_LENGTH} "
            "characters (a few random words work well)."
        )
        raise typer.Exit(2) from None
    with session_scope(url) as session:
        adviser = console_repo.create_adviser(
            session,
            username=username,
            display_name=name.strip(),
            password_hash=password_hash,
            organisations=organisations,
            role=AdviserRole(role) if role else None,
            languages=",".join(dict.fromkeys(skills)),
        )
        _audit_team(session, audit.ADVISER_ADDED, adviser.id, f"{username} as")
    console.print(
        f"adviser {username!r} added ({_scope_text(organisations, role)}); "
        "they can sign in at /console/login"
    )


@advisers_app.command("grant")
@friendly_errors
def advisers_grant(
    username: str = typer.Argument(..., help="The adviser's sign-in name."),
    organisation: list[str] = typer.Option(  # noqa: B008
        [], "--organisation", help="Directory id of an organisation; repeatable."
    ),
    role: str = typer.Option("adviser", "--role", help="adviser, admin or national."),
) -> None:
    """Give an existing adviser a role in more organisations (or change it)."""
    from bot.db.models import AdviserRole
    from bot.db.repositories import access
    from bot.db.repositories import advisers as console_repo
    from bot.db.session import session_scope
    from bot.privacy import audit

    with session_scope(get_settings().database_url) as session:
        adviser = console_repo.find_adviser(session, username=username.strip().lower())
        if adviser is None:
            err.print(f"error: no adviser called {username!r}.")
            raise typer.Exit(1)
        organisations, checked = _check_membership(session, list(organisation), role)
        targets: list[str | None] = [*organisations] or [None]
        for org in targets:
            access.add_membership(
                session,
                adviser_id=adviser.id,
                organisation_id=org,
                role=AdviserRole(checked or "adviser"),
            )
        _audit_team(
            session, audit.ROLE_CHANGED, adviser.id, f"{adviser.username} now", targets
        )
    console.print(f"adviser {username!r}: {_scope_text(organisations, checked)}")


@advisers_app.command("list")
@friendly_errors
def advisers_list() -> None:
    """List adviser accounts and their organisations (never their passwords)."""
    from bot.db.repositories import access
    from bot.db.repositories import advisers as console_repo
    from bot.db.session import session_scope

    table = Table("username", "name", "organisations (role)", "languages", "active")
    with session_scope(get_settings().database_url) as session:
        for a in console_repo.list_advisers(session):
            roles = [
                f"{m.organisation_id or 'every area'} ({m.role.value})"
                for m in access.memberships_of(session, adviser_id=a.id)
            ]
            table.add_row(
                a.username,
                a.display_name,
                ", ".join(roles) or "none",
                a.languages,
                "yes" if a.active else "no",
            )
    console.print(table)


@advisers_app.command("deactivate")
@friendly_errors
def advisers_deactivate(username: str) -> None:
    """Stop an adviser signing in and end their console sessions."""
    from bot.db.repositories import advisers as console_repo
    from bot.db.session import session_scope
    from bot.privacy import audit

    with session_scope(get_settings().database_url) as session:
        found = console_repo.deactivate_adviser(
            session, username=username.strip().lower()
        )
        adviser = console_repo.find_adviser(session, username=username.strip().lower())
        if found and adviser is not None:
            _audit_team(
                session, audit.ADVISER_DEACTIVATED, adviser.id, adviser.username
            )
    if not found:
        err.print(f"error: no adviser called {username!r}.")
        raise typer.Exit(1)
    console.print(f"adviser {username!r} deactivated; their sessions have ended")


# --------------------------------------------------------------------------------
# Reports (issue 15)
# --------------------------------------------------------------------------------


def _day(value: str) -> Any:
    from datetime import date

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


@app.command("report")
@friendly_errors
def report(
    date_from: str = typer.Option(..., "--from", help="first day, YYYY-MM-DD"),
    date_to: str = typer.Option(..., "--to", help="last day, YYYY-MM-DD"),
    organisation: str | None = typer.Option(
        None, "--organisation", help="an organisation's id: its areas only"
    ),
    fmt: str = typer.Option("html", "--format", help="html, csv or json"),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="write to this file (default: stdout)"
    ),
    exact: bool = typer.Option(
        False,
        "--exact",
        help="show counts under 5 exactly (only for the organisation's own "
        "advisers; anything shared shows them as <5)",
    ),
) -> None:
    """Write the report of a period (enquiries, hand-overs, times, ratings)."""
    from bot.db.session import session_scope
    from bot.reports import figures as report_figures
    from bot.reports.render import render

    if fmt not in ("html", "csv", "json"):
        raise typer.BadParameter("--format must be html, csv or json")
    start, end = _day(date_from), _day(date_to)
    if end < start:
        raise typer.BadParameter("--to is before --from")
    with session_scope(get_settings().database_url) as session:
        try:
            figures = report_figures.build(
                session, start=start, end=end, organisation_id=organisation
            )
        except report_figures.UnknownOrganisation:
            err.print(f"error: no organisation with id {organisation!r}.")
            raise typer.Exit(1) from None
    if not exact:
        figures = report_figures.suppress(figures)
    text = render(figures, fmt)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        err.print(f"report written to {output}")


# --------------------------------------------------------------------------------
# privacy (issue 13)
# --------------------------------------------------------------------------------

privacy_app = typer.Typer(
    help="Retention, subject access (export) and erasure.", no_args_is_help=True
)
app.add_typer(privacy_app, name="privacy")


def _selector(
    conversation: str | None, email: str | None, telegram_user: str | None
) -> tuple[dict[str, str], str, str]:
    """Return the one selector given, what it is called and how it was found."""
    given = {
        k: v
        for k, v in (
            ("conversation_id", conversation),
            ("email", email),
            ("telegram_user", telegram_user),
        )
        if v
    }
    if len(given) != 1:
        err.print(
            "error: give exactly one of --conversation ID, --email ADDRESS or "
            "--telegram-user ID."
        )
        raise typer.Exit(2)
    [(key, value)] = given.items()
    labels = {
        "conversation_id": ("conversation " + value, "by conversation id"),
        "email": ("the email address " + value, "by email address"),
        "telegram_user": ("Telegram user " + value, "by Telegram user id"),
    }
    label, how = labels[key]
    return given, label, how


_CONVERSATION = typer.Option(None, "--conversation", help="A conversation id.")
_EMAIL = typer.Option(None, "--email", help="The person's email address.")
_TELEGRAM = typer.Option(None, "--telegram-user", help="The person's Telegram id.")


@privacy_app.command("export")
@friendly_errors
def privacy_export(
    conversation: str | None = _CONVERSATION,
    email: str | None = _EMAIL,
    telegram_user: str | None = _TELEGRAM,
    as_html: bool = typer.Option(
        False, "--html", help="A readable HTML page to send them, not JSON."
    ),
    out: Path | None = typer.Option(  # noqa: B008
        None, "--out", help="Write to this file (mode 0600), not stdout."
    ),
) -> None:
    """Print everything held about one person (a subject access request)."""
    import json
    import os

    from bot.db.session import session_scope
    from bot.privacy import audit, export, stores

    given, label, _how = _selector(conversation, email, telegram_user)
    with session_scope(get_settings().database_url) as session:
        ids = stores.find_conversations(session, **given)
        data = export.export(session, ids, by=audit.cli_actor(), asked_for=label)
    body = (
        export.to_html(data)
        if as_html
        else json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    )
    if out is None:
        sys.stdout.write(body)
    else:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(body)
        err.print(f"{len(ids)} conversation(s) written to {out}")
    if not ids:
        err.print(f"nothing is held about {label}")


@privacy_app.command("erase")
@friendly_errors
def privacy_erase(
    conversation: str | None = _CONVERSATION,
    email: str | None = _EMAIL,
    telegram_user: str | None = _TELEGRAM,
    yes: bool = typer.Option(False, "--yes", help="Do not ask to confirm."),
) -> None:
    """Erase one person's conversations from every store (asks to confirm)."""
    from bot.db.session import session_scope
    from bot.privacy import audit, erasure, stores

    given, label, how = _selector(conversation, email, telegram_user)
    url = get_settings().database_url
    with session_scope(url) as session:
        ids = stores.find_conversations(session, **given)
    if not ids:
        console.print(f"nothing is held about {label}: nothing erased")
        return
    if not yes and not typer.confirm(
        f"Erase {len(ids)} conversation(s) of {label} from every store? "
        "This cannot be undone",
        default=False,
    ):
        err.print("nothing erased")
        raise typer.Exit(1)
    with session_scope(url) as session:
        removed = erasure.erase_conversations(
            session, ids, by=audit.cli_actor(), how=how
        )
    console.print(
        f"erased {removed.conversations} conversation(s) of {label} "
        f"({removed.tracker_events} assistant events); the audit log records "
        "that an erasure happened, not what it erased"
    )


@privacy_app.command("sweep")
@friendly_errors
def privacy_sweep(
    now: str | None = typer.Option(
        None,
        "--now",
        help="Sweep as if it were this time (ISO 8601, e.g. 2027-06-01T00:00Z): "
        "see what a later sweep would do.",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Only count what would be anonymised."
    ),
) -> None:
    """Anonymise conversations idle longer than RETENTION_DAYS."""
    from datetime import UTC, datetime

    from bot.privacy import audit
    from bot.privacy.sweep import sweep

    when = None
    if now:
        try:
            when = datetime.fromisoformat(now.replace("Z", "+00:00"))
        except ValueError:
            err.print(f"error: --now {now!r} is not an ISO 8601 date and time.")
            raise typer.Exit(2) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
    days = get_settings().retention_days
    ids = sweep(now=when, by=audit.cli_actor(), dry_run=dry_run)
    verb = "would anonymise" if dry_run else "anonymised"
    console.print(
        f"{verb} {len(ids)} conversation(s) idle more than {days} days; "
        "kept: dates, channel, topic, council area, outcome"
    )


def main() -> None:
    """Entry point for `python -m bot.cli`."""
    app()


if __name__ == "__main__":
    main()
