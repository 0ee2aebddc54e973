"""The common tail of the benchmarks: print the table, then the machine's load average (the figures of
a shared machine mean little without it), and write the same figures as JSON."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def print_and_write(table: str, result: dict[str, Any], path: Path) -> None:
    """``result["setup"]``, when there, gets ``load_after``; ``load_before`` is the caller's to set."""
    setup = result.get("setup")
    if isinstance(setup, dict):
        setup["load_after"] = os.getloadavg()
        loads = [f"{k.removeprefix('load_')} {' '.join(f'{v:.2f}' for v in setup[k])}"
                 for k in ("load_before", "load_after") if k in setup]
        table += f"\nload average (1, 5, 15 min): {'; '.join(loads)} on {len(os.sched_getaffinity(0))} CPUs"
    print(table)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"figures written to {path}", file=sys.stderr)
