"""The ``qusi-lab`` command line.

Examples
--------
Build the embedded synthetic sector, lay it out as a transit experiment and
summarise the datasets made from it::

    qusi-lab demo --out demo_output --stars 300

Make a synthetic sector only::

    qusi-lab synthetic --out data/sector1 --stars 1000 --experiment
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

EXAMPLES_DEMO = """examples:
  qusi-lab demo                       # 300 synthetic stars into ./demo_output
  qusi-lab demo --out /tmp/demo --stars 1000 --seed 3
"""

EXAMPLES_SYNTHETIC = """examples:
  qusi-lab synthetic --out data/sector1 --stars 1000
  qusi-lab synthetic --out data --stars 1000 --experiment        # data/spoc_transit_experiment/{train,validation,test}
  qusi-lab synthetic --out data --experiment --positive-kind heartbeat
"""


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qusi-lab",
        description="Neural networks that sift photometric surveys for transits, heartbeat stars and more.",
    )
    from qusi_lab import __version__

    parser.add_argument("--version", action="version", version=f"qusi_lab {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="run the main job end to end on the embedded synthetic sector",
        epilog=EXAMPLES_DEMO,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--out", type=Path, default=Path("demo_output"), help="output folder (default: %(default)s)")
    demo.add_argument("--stars", type=int, default=300, help="number of synthetic stars (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")

    synthetic = commands.add_parser(
        "synthetic",
        help="write a synthetic TESS sector as SPOC-format FITS files",
        epilog=EXAMPLES_SYNTHETIC,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    synthetic.add_argument("--out", type=Path, required=True, help="output folder")
    synthetic.add_argument("--stars", type=int, default=1000, help="number of stars (default: %(default)s)")
    synthetic.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    synthetic.add_argument("--sector", type=int, default=1, help="TESS sector number (default: %(default)s)")
    synthetic.add_argument(
        "--experiment", action="store_true", help="lay files out as {train,validation,test}/{positive,negative}"
    )
    synthetic.add_argument(
        "--positive-kind",
        default="planet",
        help="which kind of star is the positive class in an experiment layout (default: %(default)s)",
    )
    return parser


def _run_synthetic(args: argparse.Namespace) -> int:
    from qusi_lab import synthetic

    started = time.perf_counter()
    result = synthetic.make_sector(
        args.out,
        n_stars=args.stars,
        sector=args.sector,
        seed=args.seed,
        experiment=args.experiment,
        positive_kinds=(args.positive_kind,),
    )
    print(result)
    print(f"wrote {args.stars} stars to {args.out} in {time.perf_counter() - started:.1f} s")
    return 0


def _run_demo(args: argparse.Namespace) -> int:
    from qusi_lab.demo import run_demo

    run_demo(args.out, n_stars=args.stars, seed=args.seed)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``qusi-lab``; returns the process exit code."""
    args = _build_parser().parse_args(argv)
    handlers = {"demo": _run_demo, "synthetic": _run_synthetic}
    return handlers[args.command](args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
