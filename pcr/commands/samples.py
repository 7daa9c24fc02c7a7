"""`pcr samples`: write synthetic exports in every shipped layout (synth/generator.py)."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ingest.contract import TABLE_ORDER
from pcr.settings import Settings
from synth import generator
from synth.generator import DEFAULT_MESSY_RATE, DEFAULT_SEED, FORMATS, LAYOUTS, ON_REQUEST_LAYOUTS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: the repository's data_samples/)")
    parser.add_argument("--motions", type=int, default=2000, help="approximate number of motions")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--layouts", default=",".join(LAYOUTS),
                        help=f"comma-separated layouts (default: {','.join(LAYOUTS)}; on request: "
                             f"{','.join(ON_REQUEST_LAYOUTS)})")
    parser.add_argument("--formats", default=",".join(FORMATS), help="comma-separated: csv,xlsx")
    parser.add_argument("--clean", action="store_true", help="inject no messy rows")
    parser.add_argument("--messy-rate", type=float, default=DEFAULT_MESSY_RATE,
                        help=f"share of rows per table made messy (default {DEFAULT_MESSY_RATE})")


def run(args: argparse.Namespace, settings: Settings) -> int:
    layouts = [x.strip() for x in args.layouts.split(",") if x.strip()]
    formats = [x.strip() for x in args.formats.split(",") if x.strip()]
    for value, allowed, what in ((layouts, LAYOUTS + ON_REQUEST_LAYOUTS, "layout"), (formats, FORMATS, "format")):
        unknown = sorted(set(value) - set(allowed))
        if unknown:
            print(f"pcr samples: unknown {what} {unknown}; choose from {list(allowed)}", file=sys.stderr)
            return 2
    out = args.out or settings.project_root / "data_samples"
    started = time.perf_counter()
    print(f"generating ~{args.motions:,} motions, seed {args.seed}, "
          f"{'clean' if args.clean else f'messy rate {args.messy_rate}'}", flush=True)
    ds = generator.generate(args.motions, args.seed, messy=not args.clean, messy_rate=args.messy_rate)
    counts = ", ".join(f"{t} {len(ds.tables[t]):,}" for t in TABLE_ORDER)
    print(f"generated in {time.perf_counter() - started:.1f} s: {counts}", flush=True)
    manifest = generator.write_samples(ds, out, layouts, formats, progress=lambda line: print(line, flush=True))
    print(f"wrote {len(manifest['files'])} files/sheets and generator_manifest.json to {out} "
          f"in {time.perf_counter() - started:.1f} s", flush=True)
    return 0
