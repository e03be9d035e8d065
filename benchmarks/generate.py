"""Generate a realistic synthetic perfgen project for benchmarks.

    python benchmarks/generate.py --services 1000 --months 60 --channels 5 --out /tmp/bench-1000

Writes OUT/config/services.yml and OUT/data/*.csv (one file per department) in the canonical
format: per-channel transactions and costs, started/completed, survey ratings, with seasonal
trends, growing digital take-up, gaps (blank cells) and a few real-export anomalies.
Deterministic for a given --seed.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
from pathlib import Path

CHANNELS = ["online", "phone", "paper", "face_to_face", "api", "assisted_digital", "email", "other"]
HEADER = ["service", "period", "channel", "metric", "value"]


def months(count: int, end_year: int = 2024) -> list[str]:
    first = end_year * 12 + 12 - count  # months counted from year 0
    return [f"{(first + i) // 12}-{(first + i) % 12 + 1:02d}" for i in range(count)]


def generate(out: Path, services: int, month_count: int, channel_count: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    channels = CHANNELS[:channel_count]
    departments = max(1, services // 40)
    (out / "config").mkdir(parents=True, exist_ok=True)
    (out / "data").mkdir(parents=True, exist_ok=True)
    lines = [
        "site:",
        "  title: Synthetic benchmark site",
        f"  digital_channels: [{', '.join(c for c in channels if c in ('online', 'api'))}]",
        "departments:",
    ]
    for d in range(departments):
        lines += [f"  - slug: dept-{d}", f"    name: Department {d}"]
    lines.append("services:")
    for s in range(services):
        lines += [f"  - slug: service-{s}", f"    name: Service number {s}", f"    department: dept-{s % departments}"]
    (out / "config/services.yml").write_text("\n".join(lines) + "\n", encoding="utf-8")

    periods = months(month_count)
    writers = {}
    handles = []
    for d in range(departments):
        handle = (out / "data" / f"dept-{d}.csv").open("w", newline="", encoding="utf-8")
        handles.append(handle)
        writers[d] = csv.writer(handle, lineterminator="\n")
        writers[d].writerow(HEADER)
    for s in range(services):
        writer = writers[s % departments]
        slug = f"service-{s}"
        base = rng.lognormvariate(9, 1.5)
        growth = rng.uniform(-0.002, 0.01)
        start_share = rng.uniform(0.2, 0.8)
        unit_costs = {c: rng.uniform(0.5, 5) if c in ("online", "api") else rng.uniform(5, 40) for c in channels}
        starts_late = rng.random() < 0.1  # some services only began reporting recently
        for index, period in enumerate(periods):
            if starts_late and index < month_count // 2:
                continue
            season = 1 + 0.2 * math.sin(index / 12 * 2 * math.pi + s)
            total = max(0, round(base * season * (1 + growth) ** index))
            share = min(0.98, start_share + index * 0.005)
            digital = [c for c in channels if c in ("online", "api")]
            other = [c for c in channels if c not in digital]
            volumes = {}
            for c in digital:
                volumes[c] = round(total * share / max(1, len(digital)))
            for c in other:
                volumes[c] = round(total * (1 - share) / max(1, len(other)))
            for channel, volume in volumes.items():
                blank = rng.random() < 0.01
                writer.writerow([slug, period, channel, "transactions", "" if blank else volume])
                writer.writerow([slug, period, channel, "cost", round(volume * unit_costs[channel], 2)])
            online = volumes.get("online", 0)
            if online and rng.random() > 0.05:
                writer.writerow([slug, period, "online", "started", round(online / rng.uniform(0.7, 0.95))])
                writer.writerow([slug, period, "online", "completed", online])
            if rng.random() > 0.1:
                responses = rng.randint(20, 800)
                weights = [rng.random() for _ in range(5)]
                total_weight = sum(weights)
                for rating, weight in enumerate(weights, start=1):
                    writer.writerow([slug, period, "", f"rating_{rating}", round(responses * weight / total_weight)])
    for handle in handles:
        handle.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--months", type=int, default=60)
    parser.add_argument("--channels", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    generate(args.out, args.services, args.months, args.channels, args.seed)
    print(f"Wrote {args.services} services x {args.months} months x {args.channels} channels to {args.out}")


if __name__ == "__main__":
    main()
