"""`make bench`'s figures vs targets, latency plot and docs/benchmarks.md."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import ScalarFormatter  # noqa: E402

from scripts.report_common import (  # noqa: E402
    DOCS,
    IMG,
    Target,
    git_commit,
    machine,
    md_table,
)

REPORT = DOCS / "benchmarks.md"
PLOT = IMG / "bench-latency.png"
P95_MS = Target(300.0, higher=False)
# 0.8 x the first version's 68 msg/s (issues 8 and 9); the first target was 30
PEAK_MSG_S = Target(54.4)
OVERHEAD = Target(0.10, higher=False)
RSS_BYTES = Target(1.6e9, higher=False)  # 1.6 GB
SERVICES = ("rasa", "actions", "gateway")
Run = dict[str, Any]


def load_results(path: Path) -> dict[str, Any]:
    """Read var/bench/results.json."""
    return dict(json.loads(path.read_text(encoding="utf-8")))


def _ms(x: float) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x:.0f}"


def _mb(n: float) -> str:
    return f"{n / 1e6:.0f} MB"


def _find(runs: list[Run], target: str, people: int) -> Run | None:
    return next(
        (r for r in runs if r["target"] == target and r["people"] == people), None
    )


def overhead(gateway: float, direct: float) -> float:
    """Return the gateway's extra latency as a share of Rasa's own."""
    if not direct or math.isnan(direct) or math.isnan(gateway):
        return float("nan")
    return gateway / direct - 1.0


def peak(runs: list[Run], target: str) -> Run | None:
    """Return the saturation step with the most messages per second."""
    steps = [r for r in runs if r["target"] == target]
    return max(steps, key=lambda r: r["overall"]["msg_per_s"]) if steps else None


def _cpu(run: Run) -> str:
    cores = run.get("cpu_cores") or {}
    parts = [
        f"{k} {cores[k]:.2f}" for k in (*SERVICES, "driver", "others") if k in cores
    ]
    if "machine_cpu" in run:
        parts.append(f"machine {run['machine_cpu']:.0%} busy")
    return ", ".join(parts)


# (process, function names as py-spy shows them, what it is): the share of the
# process's samples is reported when at least 3%.
HOTSPOTS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("rasa", ("rasa/engine/runner/dask.py:run",),
     "running the NLU pipeline and the policies (Rasa's graph)"),
    ("rasa", ("rasa_addons/dense_featurizer.py:process",),
     "the MiniLM sentence encoder, inside the graph"),
    ("rasa", ("rasa_addons/triage_classifier.py:process",),
     "the triage classifier's heads, inside the graph"),
    ("rasa", ("rasa/core/actions/action.py:run",),
     "custom actions: building each action server request (it carries the "
     "domain), the call, and checking the answer"),
    ("rasa", ("rasa/core/actions/action.py:_validate_action_result",
              "rasa_addons/speedups.py:_validate_action_result"),
     "validating action server answers against Rasa's JSON schema"),
    ("rasa", ("jsonschema/validators.py:check_schema",),
     "jsonschema re-checking that schema against its meta-schema on every call "
     "(`jsonschema.validate` does so each time; a validator built once does not)"),
    ("rasa", ("rasa/core/tracker_store.py:retrieve",),
     "fetching trackers: the in-memory store keeps them serialised, so each fetch "
     "deserialises and replays every event; the gateway's channel fetches once "
     "more per message for the intent and pause state"),
    ("rasa", ("json/encoder.py:encode",), "encoding JSON"),
    ("gateway", ("bot/gateway/pipeline.py:Pipeline.in_db.<locals>.run",
                 "bot/gateway/pipeline.py:Pipeline._db.<locals>.run"),
     "database transactions in the thread pool (SQLite)"),
    ("gateway", ("bot/gateway/turns.py:store_reply",
                 "bot/gateway/pipeline.py:Pipeline._store_reply"),
     "storing the bot's replies and the NLU result"),
    ("gateway", ("bot/gateway/turns.py:store_incoming",
                 "bot/gateway/pipeline.py:Pipeline._store_incoming"),
     "storing the person's message (once, by its source id)"),
    ("gateway", ("bot/db/repositories/conversations.py:mark_delivered",),
     "marking replies delivered (one more transaction per turn)"),
    ("gateway", ("bot/gateway/rasa_client.py:RasaClient.send",),
     "the HTTP call to Rasa (client side)"),
    ("actions", ("actions/common.py:in_session.<locals>.run",),
     "database work (directory look-ups, triage and hand-over records)"),
    ("actions", ("sanic/request/types.py:Request.load_json",),
     "parsing Rasa's requests (each carries the tracker and the domain)"),
)
BUSY_MACHINE = 0.85


def hot_spots(data: dict[str, Any]) -> list[str]:
    """Say what limits throughput and where each process's time goes."""
    out: list[str] = []
    pk = peak(data["saturation"], "widget")
    rpk = peak(data["saturation"], "rasa")
    if pk:
        cores = pk["cpu_cores"]
        rasa_cores = cores.get("rasa", 0.0)
        text = (
            f"At the gateway's peak ({pk['people']} people, "
            f"{pk['overall']['msg_per_s']:.1f} msg/s) CPU use was {_cpu(pk)}. "
            f"Rasa serves every message on one event loop in one process, so one "
            f"core is its ceiling; it used {rasa_cores:.2f}."
        )
        if rpk:
            gap = pk["overall"]["msg_per_s"] / rpk["overall"]["msg_per_s"] - 1
            text += (
                f" Straight to Rasa the peak was {rpk['overall']['msg_per_s']:.1f} "
                f"msg/s ({rpk['people']} people), so going through the gateway "
                f"changes the peak by {gap:+.0%}."
            )
        if pk.get("machine_cpu", 0.0) >= BUSY_MACHINE:
            text += (
                f" The machine's {data.get('cpu_count', 2)} cores were "
                f"{pk['machine_cpu']:.0%} busy: the gateway "
                f"({cores.get('gateway', 0):.2f} cores), the action server, the load "
                "driver and whatever else ran take cores Rasa would otherwise get, "
                "so the cores are the limit before Rasa's own ceiling is reached."
            )
        out.append(text)
    procs = (data.get("profile") or {}).get("processes") or {}
    for name, funcs, what in HOTSPOTS:
        shares = (procs.get(name) or {}).get("inclusive_share") or {}
        share = max((shares.get(f, 0.0) for f in funcs), default=0.0)
        if share >= 0.03:
            shown = next(f for f in funcs if shares.get(f, 0.0) == share)
            out.append(f"{name}: {share:.0%} of its samples go to {what} (`{shown}`).")
    return out


def plot(data: dict[str, Any], path: Path) -> None:
    """Latency percentiles at human pace; throughput and p95 when saturating."""
    human, sat = data["human"], data["saturation"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    styles = {"widget": ("C0", "o"), "telegram": ("C1", "s"), "rasa": ("C2", "^")}
    for channel, (colour, marker) in styles.items():
        rows = []
        for run in human:
            stats = run["by_channel"].get(channel)
            if stats and stats["turns"]:
                rows.append((run["people"], stats))
        if not rows:
            continue
        xs = [p for p, _ in rows]
        label = "Rasa REST (direct)" if channel == "rasa" else f"gateway: {channel}"
        left.plot(xs, [s["p50"] for _, s in rows], marker=marker, color=colour,
                  label=f"{label} p50")
        left.plot(xs, [s["p95"] for _, s in rows], marker=marker, color=colour,
                  linestyle="--", label=f"{label} p95")
        left.plot(xs, [s["p99"] for _, s in rows], marker=marker, color=colour,
                  linestyle=":", alpha=0.6)
    left.axhline(P95_MS.limit, color="red", linewidth=1, label="p95 target")
    left.set_xscale("log")
    left.set_yscale("log")
    left.yaxis.set_major_formatter(ScalarFormatter())
    left.yaxis.set_minor_formatter(ScalarFormatter())
    left.set_xticks(list({r["people"] for r in human}),
                    [str(x) for x in sorted({r["people"] for r in human})])
    left.set_xlabel("people at human pace (~5 s between messages)")
    left.set_ylabel("reply latency, ms (dotted: p99)")
    left.set_title("Human pace")
    left.legend(fontsize=7)

    twin = right.twinx()
    for target, colour in (("widget", "C0"), ("rasa", "C2")):
        steps = [r for r in sat if r["target"] == target]
        if not steps:
            continue
        xs = [r["people"] for r in steps]
        name = "gateway (widget)" if target == "widget" else "Rasa REST (direct)"
        right.plot(xs, [r["overall"]["msg_per_s"] for r in steps], marker="o",
                   color=colour, label=f"{name} msg/s")
        twin.plot(xs, [r["overall"]["p95"] for r in steps], marker="x",
                  color=colour, linestyle="--", label=f"{name} p95 ms")
    right.axhline(PEAK_MSG_S.limit, color="red", linewidth=1, label="peak target")
    right.set_xscale("log", base=2)
    levels = sorted({r["people"] for r in sat})
    right.set_xticks(levels, [str(x) for x in levels])
    right.set_xlabel("concurrent people, no pause")
    right.set_ylabel("messages answered per second")
    twin.set_ylabel("p95 latency, ms (dashed)")
    right.set_title("Saturation")
    lines = right.get_legend_handles_labels()
    lines2 = twin.get_legend_handles_labels()
    right.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=7,
                 loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


SCALED_RATIO = Target(1.5)
SCALED_OVERHEAD = Target(0.15, higher=False)


def scaled_section(data: dict[str, Any]) -> list[str]:
    """The embedded and the scaled profile side by side (same run, same loads)."""
    scaled = data.get("scaled") or {}
    out: list[str] = ["## Embedded and scaled profiles\n"]
    if not scaled:
        out.append("The scaled profile was not run (" + "; ".join(
            n for n in data.get("notes", []) if "scaled" in n) + ").\n")
        return out
    out.append(
        "The same run starts the stack a second time in the scaled profile: "
        "PostgreSQL (a throwaway database on the local server) and Redis (a key "
        f"prefix of its own), {scaled['gateway_workers']} gateway workers "
        f"(`GATEWAY_WORKERS`) and {scaled['rasa_workers']} Rasa workers "
        "(`RASA_WORKERS`, Rasa's Redis lock store), widget only; the same human-"
        "pace script at 50 people and the same ramp to the peak. Both profiles "
        "share this 2-core machine with PostgreSQL and Redis themselves.\n")
    emb_peak = peak(data["saturation"], "widget")
    sc_peak = peak(scaled["saturation"], "widget")
    emb_rasa = peak(data["saturation"], "rasa")
    sc_rasa = peak(scaled["saturation"], "rasa")
    emb50 = _find(data["human"], "gateway", 50)
    emb_r50 = _find(data["human"], "rasa", 50)
    sc50 = _find(scaled["human"], "widget", 50)
    sc_r50 = _find(scaled["human"], "rasa", 50)

    def rate(run: Run | None) -> float:
        return run["overall"]["msg_per_s"] if run else float("nan")

    def p(run: Run | None, key: str, channel: str | None = None) -> float:
        if not run:
            return float("nan")
        figures = run["by_channel"].get(channel) if channel else run["overall"]
        return figures[key] if figures else float("nan")

    rows = [
        ["peak msg/s through the gateway", f"{rate(emb_peak):.1f}",
         f"{rate(sc_peak):.1f}"],
        ["peak msg/s straight to Rasa", f"{rate(emb_rasa):.1f}",
         f"{rate(sc_rasa):.1f}"],
        ["p50 / p95 at 50 people, widget",
         f"{_ms(p(emb50, 'p50', 'widget'))} / {_ms(p(emb50, 'p95', 'widget'))} ms",
         f"{_ms(p(sc50, 'p50'))} / {_ms(p(sc50, 'p95'))} ms"],
        ["p50 / p95 at 50 people, Rasa direct",
         f"{_ms(p(emb_r50, 'p50'))} / {_ms(p(emb_r50, 'p95'))} ms",
         f"{_ms(p(sc_r50, 'p50'))} / {_ms(p(sc_r50, 'p95'))} ms"],
        ["CPU cores used at the peak", _cpu(emb_peak) if emb_peak else "n/a",
         _cpu(sc_peak) if sc_peak else "n/a"],
        ["RSS peak, whole stack", _mb(float(data["rss_peak_total"])),
         _mb(float(scaled.get("rss_peak_total", 0)))],
    ]
    out.append(md_table(["", "embedded (SQLite, 1 + 1)", "scaled (PostgreSQL + "
                         "Redis, 2 + 2)"], rows))
    out.append("")
    ratio = rate(sc_peak) / rate(emb_peak) if emb_peak and sc_peak else float("nan")
    sc_ov = overhead(p(sc50, "p50"), p(sc_r50, "p50"))
    emb_ov = overhead(p(emb50, "p50", "widget"), p(emb_r50, "p50"))
    out.append(md_table(["figure", "measured", "target", "verdict"], [
        ["scaled peak / embedded peak (through the gateway)", f"{ratio:.2f}×",
         f"≥ {SCALED_RATIO.limit:.1f}×", SCALED_RATIO.verdict(ratio, "{:.2f}×")],
        ["gateway overhead at p50, 50 people, scaled (embedded "
         f"{emb_ov:+.1%})", f"{sc_ov:+.1%}", f"≤ {SCALED_OVERHEAD.limit:.0%}",
         SCALED_OVERHEAD.verdict(sc_ov, "{:.1%}")],
    ]))
    out.append("")
    steps = [
        [r["people"], r["target"], f"{r['overall']['msg_per_s']:.1f}",
         _ms(r["overall"]["p50"]), _ms(r["overall"]["p95"]),
         f"{r['overall']['errors']:.0f}", _cpu(r)]
        for r in scaled["saturation"]
    ]
    prof = (scaled.get("profile") or {}).get("processes") or {}
    if prof:
        out.append(
            f"Where the time goes in the scaled profile (py-spy, every worker, "
            f"{scaled['profile']['people']} people at "
            f"{scaled['profile']['msg_per_s']:.1f} msg/s under the profiler), "
            "samples per service and their hottest frames of our own code:\n")
        for name, proc in prof.items():
            ours = [
                f"{share:5.1%}  {func}"
                for func, share in (proc.get("inclusive_share") or {}).items()
                if func.startswith(("bot/", "actions/", "rasa_addons/"))
            ][:5]
            out.append(f"- **{name}**: {proc['samples']} samples; "
                       + ("; ".join(x.strip() for x in ours) or "none of ours"))
        out.append("")
    out.append("Scaled ramp (no pause):\n")
    out.append(md_table(["people", "path", "msg/s", "p50 ms", "p95 ms", "errors",
                         "CPU cores used (per process)"], steps))
    out.append("")
    return out


def console_section(data: dict[str, Any]) -> list[str]:
    """Server time of the console's busiest pages (scripts/bench_console.py)."""
    console = data.get("console") or {}
    if not console:
        return []
    out = ["## Console pages at scale\n"]
    if "error" in console:
        out.append(f"Not measured: {' '.join(console['error'])}\n")
        return out
    target = console.get("target_p95_ms", 300)
    rows = []
    for backend, figures in (console.get("backends") or {}).items():
        if "skipped" in figures:
            rows.append([backend, "—", "—", "—", figures["skipped"]])
            continue
        for page, f in figures["pages"].items():
            rows.append([backend, page, _ms(f["p50_ms"]), _ms(f["p95_ms"]),
                         "met" if f["p95_ms"] <= target else "**missed**"])
    first: dict[str, Any] = next(iter((console.get("backends") or {}).values()), {})
    out.append(
        f"Each page requested in-process against a throwaway database seeded with "
        f"{first.get('conversations', '?')} conversations "
        f"({first.get('messages', '?')} messages); server time from the first "
        f"byte in to the last byte out. Target: p95 ≤ {target} ms.\n")
    out.append(md_table(["database", "page", "p50 ms", "p95 ms", "verdict"], rows))
    out.append("")
    return out


def write_report(data: dict[str, Any], *, quick: bool = False) -> Path:
    """Write docs/benchmarks.md (and its plot) from the results; return its path."""
    IMG.mkdir(parents=True, exist_ok=True)
    plot(data, PLOT)
    human, sat = data["human"], data["saturation"]
    out: list[str] = []
    w = out.append
    when = dt.datetime.fromtimestamp(data["started_at"], dt.UTC)
    w("# Front Door: benchmark report\n")
    w("Generated by `make bench` (`scripts/bench.py`); figures, not assertions. "
      "Raw numbers: `var/bench/results.json`.\n")
    if quick:
        w("> **Smoke run (`--quick`)**: short runs, not representative.\n")
    ready = data.get("ready_s") or {}
    w(md_table(["", ""], [
        ["date", when.strftime("%Y-%m-%d %H:%M UTC")],
        ["commit", git_commit()],
        ["machine", machine()],
        ["training time", f"{data.get('training_s')} s (`models/.train-seconds`)"],
        ["database", "throwaway SQLite under `var/bench/`, migrated and directory "
                     f"imported in {data['setup_s']} s"],
        ["start to ready", ", ".join(f"{k} {v:.1f} s" for k, v in ready.items())],
        ["whole bench", f"{data['total_s']:.0f} s (budget 600 s)"],
        ["load average before", " / ".join(
            f"{x:.2f}" for x in data.get("load_before") or []) + " (1 / 5 / 15 min)"],
    ]))
    w("")

    # ----------------------------------------------------------- targets
    h50 = _find(human, "gateway", 50)
    r50 = _find(human, "rasa", 50)
    pk = peak(sat, "widget")
    rpk = peak(sat, "rasa")
    p95_50 = h50["overall"]["p95"] if h50 else float("nan")
    widget50 = h50["by_channel"].get("widget") if h50 else None
    rasa50 = r50["overall"] if r50 else None
    ov = (
        overhead(widget50["p50"], rasa50["p50"])
        if widget50 and rasa50 else float("nan")
    )
    peak_rate = pk["overall"]["msg_per_s"] if pk else float("nan")
    rss_total = float(data["rss_peak_total"])
    w("## Targets\n")
    w(md_table(["figure", "measured", "target", "verdict"], [
        ["p95 reply latency, 50 people at human pace, through the gateway "
         "(widget + Telegram)", f"{_ms(p95_50)} ms", f"≤ {P95_MS.limit:.0f} ms",
         P95_MS.verdict(p95_50, "{:.0f} ms")],
        ["peak messages per second through the gateway (widget, no pause)",
         f"{peak_rate:.1f}", f"≥ {PEAK_MSG_S.limit:g} (0.8 × 68)",
         PEAK_MSG_S.verdict(peak_rate, "{:.1f} msg/s")],
        ["gateway overhead: widget p50 vs Rasa REST p50, 50 people",
         f"{ov:+.1%} ({_ms(widget50['p50'] - rasa50['p50'])} ms)"
         if widget50 and rasa50 else "n/a",
         f"≤ {OVERHEAD.limit:.0%}", OVERHEAD.verdict(ov, "{:.1%}")],
        ["whole-stack RSS, peak (Rasa + actions + gateway)", _mb(rss_total),
         "≤ 1600 MB", RSS_BYTES.verdict(rss_total, "{:.0f} bytes")
         .replace(f"{abs(rss_total - RSS_BYTES.limit):.0f} bytes",
                  _mb(abs(rss_total - RSS_BYTES.limit)))],
    ]))
    w("")

    out.extend(scaled_section(data))
    out.extend(console_section(data))

    # ------------------------------------------------------------- human pace
    w("## Human pace\n")
    w("Each simulated person holds scripted triage conversations back to back "
      "(sometimes a greeting; a topic question, a quarter of them naming the place; "
      "the place when asked; then a quarter ask for a person, which ends the "
      "conversation, the rest decline and say thanks), waits for the reply, then "
      f"pauses {data['plan']['pause_mean']:.0f} s ± 20%. Through the gateway, "
      "people alternate between the widget API and the Telegram webhook; the same "
      "script then goes straight to Rasa's REST webhook with the same number of "
      f"people. Each run lasts {data['plan']['human_seconds']:.0f} s. Latency is "
      "to the reply (widget: the POST's answer, which carries the replies; "
      "Telegram: the first `sendMessage` reaching the Bot API; Rasa: the POST).\n")
    rows = []
    for run in human:
        for channel, s in sorted(run["by_channel"].items()):
            rows.append([
                run["people"], "gateway" if channel != "rasa" else "direct",
                channel, sum(run["conversations"].values()), f"{s['turns']:.0f}",
                f"{s['msg_per_s']:.1f}", _ms(s["p50"]), _ms(s["p95"]),
                _ms(s["p99"]), _ms(s["max"]), f"{s['errors']:.0f}", _cpu(run),
            ])
    w(md_table(["people", "path", "channel", "conversations", "replies", "msg/s",
                "p50 ms", "p95 ms", "p99 ms", "max ms", "errors",
                "CPU cores used (per process)"], rows))
    w("")
    w("### Gateway overhead\n")
    rows = []
    for people in sorted({r["people"] for r in human}):
        g, r = _find(human, "gateway", people), _find(human, "rasa", people)
        if not g or not r:
            continue
        wid = g["by_channel"].get("widget")
        if not wid:
            continue
        rows.append([
            people, _ms(wid["p50"]), _ms(r["overall"]["p50"]),
            f"{overhead(wid['p50'], r['overall']['p50']):+.1%} "
            f"({wid['p50'] - r['overall']['p50']:+.0f} ms)",
            _ms(wid["p95"]), _ms(r["overall"]["p95"]),
            f"{overhead(wid['p95'], r['overall']['p95']):+.1%}",
        ])
    w(md_table(["people", "widget p50", "Rasa p50", "overhead p50", "widget p95",
                "Rasa p95", "overhead p95"], rows))
    w("")
    if h50 and r50 and h50.get("by_kind"):
        w("### By step, 50 people\n")
        w(md_table(
            ["step", "gateway replies", "gateway p50", "gateway p95",
             "direct replies", "direct p50", "direct p95"],
            [[k, f"{g['turns']:.0f}", _ms(g["p50"]), _ms(g["p95"]),
              f"{r50['by_kind'].get(k, {}).get('turns', 0):.0f}",
              _ms(r50["by_kind"].get(k, {}).get("p50", float("nan"))),
              _ms(r50["by_kind"].get(k, {}).get("p95", float("nan")))]
             for k, g in h50["by_kind"].items() if k],
        ))
        w("")
    if pk and rpk:
        w(f"At saturation the gateway peaked at {peak_rate:.1f} msg/s against "
          f"{rpk['overall']['msg_per_s']:.1f} msg/s straight to Rasa "
          f"({peak_rate / rpk['overall']['msg_per_s'] - 1:+.1%}).\n")

    # -------------------------------------------------------------- saturation
    w("## Saturation\n")
    w("No pause: each person sends the next message as soon as the reply arrives. "
      f"Concurrency doubles every level, {data['plan']['step_seconds']:.0f} s per "
      "level and path, each level through the gateway and then straight to Rasa, "
      "until two levels in a row add less than 3% messages per second on both "
      "paths. Widget only through the gateway (see the notes on Telegram).\n")
    w(md_table(["path", "people", "replies", "msg/s", "p50 ms", "p95 ms", "p99 ms",
                "errors", "CPU cores used (per process)"], [
        ["gateway (widget)" if r["target"] == "widget" else "Rasa REST",
         r["people"], f"{r['overall']['turns']:.0f}",
         f"{r['overall']['msg_per_s']:.1f}", _ms(r["overall"]["p50"]),
         _ms(r["overall"]["p95"]), _ms(r["overall"]["p99"]),
         f"{r['overall']['errors']:.0f}", _cpu(r)]
        for r in sat
    ]))
    w("")
    w(f"![latency and throughput]({PLOT.relative_to(DOCS).as_posix()})\n")

    # ------------------------------------------------------------------ memory
    w("## Memory\n")
    idle, peaks = data.get("rss_idle") or {}, data.get("rss_peak") or {}
    w(md_table(["process", "RSS when ready", "peak RSS"], [
        *[[k, _mb(idle.get(k, 0)), _mb(peaks.get(k, 0))] for k in SERVICES
          if k in peaks],
        ["**whole stack**", _mb(sum(idle.values())),
         f"**{_mb(rss_total)}** (sampled together every second)"],
        ["load driver + fake Bot API (not part of the stack)", "-",
         _mb(data.get("driver_rss", 0))],
    ]))
    w("")

    # ------------------------------------------------------------------- errors
    errors: dict[str, int] = {}
    for run in [*human, *sat]:
        for k, v in run["errors"].items():
            errors[f"{run['name']}: {k}"] = v
    w("## Errors\n")
    if errors:
        w(md_table(["run: error", "count"], [[k, v] for k, v in errors.items()]))
    else:
        w("None: every message got a reply.")
    w("")

    # -------------------------------------------------------------------- notes
    w("## Notes\n")
    notes = [
        "The load driver, the fake Telegram Bot API and the three services share "
        "the machine's cores; the driver's own CPU is in every latency here.",
        "The widget's per-client rate limit was raised for the run "
        "(`WIDGET_RATE_LIMIT_PER_MINUTE`), since every simulated person comes from "
        "127.0.0.1; in production it applies per visitor.",
        "Telegram latency includes the gateway's call to the Bot API (a fake in the "
        "driver process). python-telegram-bot's `AIORateLimiter` holds the bot to "
        "30 messages per second overall (Telegram's own limit), so a saturation run "
        "over Telegram would measure that limiter; it is left out of the ramp.",
        "Embedded profile: one Rasa process, its tracker store in the app's SQLite "
        "database, its lock store in memory; the scaled profile's are in the "
        "section above.",
        *data.get("notes", []),
    ]
    w("\n".join(f"- {n}" for n in notes))
    profile = data.get("profile") or {}
    if profile.get("processes"):
        w("\n## Profile\n")
        w(f"py-spy sampled each process (non-blocking, {profile.get('rate', 97)} Hz) "
          f"for {profile['seconds']:.0f} s while {profile['people']} people used the "
          "widget with no pause "
          f"({profile['msg_per_s']:.1f} msg/s under the profiler). Only busy samples "
          "count; shares are of that process's busy samples; frames seen in 90% or "
          "more of them (the event loop, the server) are left out of the first list.\n")
        for name, p in profile["processes"].items():
            w(f"**{name}**: {p['samples']} samples over all its threads\n")
            ours = [
                f"{share:5.1%}  {func}"
                for func, share in (p.get("inclusive_share") or {}).items()
                if func.startswith(("bot/", "actions/", "rasa_addons/"))
            ][:8]
            w("```text\nmost time including callees:\n"
              + "\n".join(p["top_inclusive"])
              + ("\n\nin Front Door's own code, including callees:\n"
                 + "\n".join(ours) if ours else "")
              + "\n\nmost time in the function itself:\n"
              + "\n".join(p["top_self"]) + "\n```\n")
    findings = hot_spots(data)
    if findings:
        w("\n## What limits it\n")
        w("\n".join(f"- {f}" for f in findings))
    REPORT.write_text("\n".join(out).rstrip() + "\n", encoding="utf-8")
    return REPORT
