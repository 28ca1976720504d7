"""How often ``trends`` finds a change point where there is none, and where it finds a real one.

Seeded series of 30 runs' p95, rounded to Locust's buckets as stored percentiles are: flat ones
(noise only) and ones with a step at run 20, for several noise levels and step sizes.

    python benchmarks/changepoint_accuracy.py [--series 1000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from obstack_load.analysis.changepoints import change_points  # noqa: E402
from obstack_load.core import histogram  # noqa: E402


def series(rng: np.random.Generator, noise: float, step: float, level: float = 150.0) -> list:
    values = level * (1 + noise * rng.standard_normal(30))
    values[20:] *= 1 + step
    return [float(histogram.bucket_response_time(v)) for v in values]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000)
    args = parser.parse_args()
    print(
        f"{'noise':>6} {'step':>6} {'any point':>10} {'at run 20':>10} {'20 +-1':>8} {'only 20':>8}"
    )
    for noise in (0.03, 0.05, 0.10):
        for step in (0.0, 0.1, 0.2, 0.3):
            rng = np.random.default_rng(int(noise * 1000 + step * 100))
            anything = exact = near = only = 0
            for _ in range(args.series):
                found = [
                    p.index
                    for p in change_points(
                        series(rng, noise, step), resolution=histogram.bucket_width
                    )
                ]
                anything += bool(found)
                exact += 20 in found
                near += any(abs(i - 20) <= 1 for i in found)
                only += found == [20]
            n = args.series
            print(f"{noise:>6.0%} {step:>6.0%} {anything / n:>10.1%} {exact / n:>10.1%} "
                  f"{near / n:>8.1%} {only / n:>8.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
