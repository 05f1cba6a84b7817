"""Benchmark: how long reading the reference out of one inbound message takes, for ordinary messages and
for hostile ones up to several megabytes (`find_reference` reads only the start of a message, in one
linear pass, so the time must not grow with the message).

    python -m bench.reference_extraction [--repeat 20]

Prints the median per message for each input and size.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.deflection.reference import find_reference  # noqa: E402
from gateway.messaging.deeplinks import prefilled_text  # noqa: E402

PREFILLED = prefilled_text("ru-RU", "K7XAMN", "Example Bank")

# name -> body of about `size` characters
INPUTS: dict[str, Callable[[int], str]] = {
    "pre-filled text + question": lambda size: PREFILLED + " " + "Карта не работает. " * (size // 19),
    "one-letter words 'A A A ...'": lambda size: "A " * (size // 2) + "номер K7XAMN",
    "split groups 'K7X-K7X-...'": lambda size: "K7X-" * (size // 4),
    "labels 'номер K7XAMP номер ...'": lambda size: "номер K7XAMP " * (size // 13),
    "one long run 'AAAA...'": lambda size: "A" * size,
}
SIZES = (1_000, 100_000, 1_000_000, 4_000_000)


def median_seconds(body: str, repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        find_reference(body)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    header = f"{'input':34}" + "".join(f"{size:>14,}" for size in SIZES)
    print(header + "   characters: median time per message")
    for name, build in INPUTS.items():
        cells = []
        for size in SIZES:
            seconds = median_seconds(build(size), args.repeat)
            cells.append(f"{seconds * 1e6:>11.1f} µs")
        print(f"{name:34}" + "".join(cells))


if __name__ == "__main__":
    main()
