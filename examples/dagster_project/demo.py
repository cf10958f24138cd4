"""Materialize the example day by day, inject incidents, and print what the checks said.

No server and no daemon: each day is one in-process ``dagster.materialize`` run against a
Dagster instance in a temporary DAGSTER_HOME, exactly the history ``dagster dev`` would keep.
Run it from the repository root::

    .venv/bin/python -m examples.dagster_project.demo            # 14 days
    .venv/bin/python -m examples.dagster_project.demo --days 21

The first week builds history (the checks pass with "insufficient history"); then a partial
load, a broken join and a batch of broken rows are injected on three days, and the alert
sensor sends the failed checks to stdout at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from datetime import date, timedelta
from typing import Any

START = date(2024, 5, 1)
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def incidents(days: int) -> dict[int, str]:
    """The day index of each injected incident: three of the last five days."""
    return {days - 5: "partial_load", days - 3: "missing_emails", days - 2: "bad_rows"}


def run(days: int = 14, *, out: Any = None) -> tuple[int, int, list[str]]:
    """Run the demo; return (incidents injected, incidents caught, days with false alarms)."""
    import dagster as dg
    from rich.console import Console

    from .definitions import ASSETS, CHECKS, alerts

    if days < 9:
        raise SystemExit("--days must be at least 9: a week of history, then the incidents")
    console = Console(file=out or sys.stdout, highlight=False, soft_wrap=True)
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    started = time.perf_counter()
    injected = incidents(days)
    caught = 0
    false_alarms: list[str] = []
    previous_home = os.environ.get("DAGSTER_HOME")
    with tempfile.TemporaryDirectory(prefix="datacanary-dagster-") as home:
        os.environ["DAGSTER_HOME"] = home
        instance = dg.DagsterInstance.get()
        console.rule("[bold]datacanary × Dagster: the example project, one run per day")
        console.print(f"DAGSTER_HOME={home} (temporary)\n")
        first_tick = alerts(dg.build_sensor_context(instance=instance))
        cursor = first_tick.cursor if isinstance(first_tick, dg.SensorResult) else None
        for i in range(days):
            day = (START + timedelta(days=i)).isoformat()
            incident = injected.get(i, "none")
            config = {"ops": {"raw_orders": {"config": {"incident": incident}}}, **QUIET}
            result = dg.materialize(
                [*ASSETS, *CHECKS],
                instance=instance,
                partition_key=day,
                run_config=config,
                raise_on_error=False,
            )
            failed = _print_day(console, day, incident, result)
            if incident != "none":
                caught += failed > 0
            elif failed:
                false_alarms.append(day)
        console.print()
        console.rule("[bold]one tick of the alert sensor (sink: stdout)")
        tick = alerts(dg.build_sensor_context(instance=instance, cursor=cursor))
        if isinstance(tick, dg.SensorResult) and tick.skip_reason is not None:
            console.print(f"[dim]{tick.skip_reason.skip_message}[/]")
        instance.dispose()
    if previous_home is None:
        os.environ.pop("DAGSTER_HOME", None)
    else:
        os.environ["DAGSTER_HOME"] = previous_home
    console.rule(
        f"{len(injected)} incidents injected, {caught} caught; false alarms on "
        f"{len(false_alarms)} of {days - len(injected)} normal days; "
        f"{time.perf_counter() - started:.0f} s"
    )
    return len(injected), caught, false_alarms


def _print_day(console: Any, day: str, incident: str, result: Any) -> int:
    label = f"[bold]{day}[/]" + (
        f"  [magenta]incident: {incident}[/]" if incident != "none" else ""
    )
    made = {
        key.to_user_string()
        for event in result.get_asset_materialization_events()
        if (key := event.asset_key) is not None
    }
    skipped = [a for a in ("orders", "daily_revenue") if a not in made]
    console.print(label + (f"  [red]blocked: {', '.join(skipped)} not built[/]" if skipped else ""))
    failed = 0
    for evaluation in sorted(
        result.get_asset_check_evaluations(),
        key=lambda e: (e.asset_key.to_user_string(), e.check_name),
    ):
        meta = {k: v.value for k, v in evaluation.metadata.items()}
        status = str(meta.get("status", "passed" if evaluation.passed else "anomaly"))
        if not evaluation.passed:
            failed += 1
            mark = "[red]✗ FAIL[/]"
        elif status == "insufficient_history":
            mark = "[yellow]… wait[/]"
        else:
            mark = "[green]✓ pass[/]"
        text = evaluation.description or ""
        prefix = f"partition {day}: "
        text = text[len(prefix) :] if text.startswith(prefix) else text
        name = f"{evaluation.asset_key.to_user_string()}.{evaluation.check_name}"
        console.print(f"  {mark} {name:<54} {text}")
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--days", type=int, default=14, help="days to materialize (>= 9)")
    args = parser.parse_args(argv)
    injected, caught, _ = run(args.days)
    return 0 if caught == injected else 1  # succeeds when every incident was caught


if __name__ == "__main__":
    sys.exit(main())
