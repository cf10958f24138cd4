"""``python -m datacanary.stream``: the stream processor without the CLI (for supervisors
and tests). Options mirror ``datacanary stream``; prints the run's stats as JSON."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from datacanary.errors import DatacanaryError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m datacanary.stream")
    add = parser.add_argument
    add("--bootstrap-servers", required=True)
    add("--topic", dest="topics", action="append", required=True)
    add("--group", required=True)
    add("--anomalies-topic", required=True)
    add("--dead-letter-topic", required=True)
    add("--model")
    add("--train-on", type=int)
    add("--save-model")
    add("--refit-every", type=int)
    add("--method")
    add("--contamination")
    add("--id-field")
    add("--window-seconds", type=float)
    add("--config")
    add("--batch-size", type=int)
    add("--scores-topic")
    add("--session-timeout", type=float)
    add("--max-messages", type=int)
    add("--max-seconds", type=float)
    add("--state", dest="state_path", help="state file; 'none' keeps the state in memory")
    add("--max-message-bytes", type=int)
    add("--alert-cooldown", type=float)
    add("--verbose", action="store_true", help="log partition assignments and the like")
    add("--webhook", help="send alerts to this URL (a webhook sink, no retries)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the processor; 0 when it stopped cleanly, 2 for a usage or delivery error."""
    from datacanary.stream import StreamSettings, run_stream

    options = vars(_parser().parse_args(argv))
    level = logging.INFO if options.pop("verbose") else logging.WARNING
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("datacanary.stream").setLevel(level)
    webhook = options.pop("webhook")
    if webhook:
        options["alerts"] = [{"type": "webhook", "url": webhook, "retries": 0}]
    try:
        stats = run_stream(StreamSettings.build(**options))
    except DatacanaryError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(stats.to_dict()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
