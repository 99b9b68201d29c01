"""Print the study's comparison table for several bench directories side by side.

Run from the repository root after `tunescope bench`, one bench directory per
model kind:

    .venv/bin/python benchmarks/study_table.py runs/bench-dnn runs/bench-cnn --target 0.95

Each bench adds one column per tuner, labelled with its model family. The
numbers are rebuilt from the seeds' journals, so the table can be printed
again with another `--target` or `--test` without training anything.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tunescope.core.bench import PAIRED_TESTS, collect_bench, paired_tests_table, study_table, summarise


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bench_dirs", type=Path, nargs="+", metavar="BENCH_DIR")
    parser.add_argument("--target", type=float, help="objective value for time-to-target, such as 0.95")
    parser.add_argument("--test", choices=PAIRED_TESTS, default="t", help="paired test across seeds (default: t)")
    args = parser.parse_args()

    summaries = []
    for bench_dir in args.bench_dirs:
        result = collect_bench(bench_dir)
        summaries.append((result.model, summarise(result, target=args.target, test=args.test)))

    for title, table in (("Comparison", study_table(summaries)), ("Paired tests", paired_tests_table(summaries))):
        escaped = table.map(lambda cell: str(cell).replace("|", "\\|"))
        print(f"## {title}\n")
        print(escaped.to_markdown(index=False, disable_numparse=True))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
