"""`python -m bench [name ...]`: run benchmarks, print JSON, write bench-results/<name>.json."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

BENCHMARKS = ["provisioning", "category_page", "vault_import", "settlement", "orders", "delivery"]
RESULTS = Path(__file__).resolve().parent.parent / "bench-results"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", help=f"any of {', '.join(BENCHMARKS)} (all if none)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args()
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    RESULTS.mkdir(exist_ok=True)
    ok = True
    for name in args.names or BENCHMARKS:
        module = importlib.import_module(f"bench.{name}")
        result = module.run(quick=args.quick)
        (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2), flush=True)
        ok = ok and result.get("targets_met", True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
