"""``--isa AVX2``: run a benchmark as on a CPU without AVX-512 and AMX, on a machine that has them.

oneDNN, which runs OpenVINO's CPU kernels, uses no instruction set above ``ONEDNN_MAX_CPU_ISA``. The
variable is set before any OpenVINO compile and is inherited by every server the benchmark starts, so
the engine, the daemon and the baseline all run the same kernels. With it, yolov8n INT8 at 640x640 runs
at ~30 inferences/s on this 2-core AMX Xeon instead of ~70: the class of the 2-core AVX2 EPYC where
issue 18 was measured (23 img/s), where inference, not decoding, is most of a request's cost.

Such a CPU has no bf16 either, so Ultralytics (the baseline) runs f32 there: ``baseline_server`` asks
for f32 when the variable is set (bf16 kernels are not built below AVX-512 and would refuse to compile).
"""

from __future__ import annotations

import os

ENV = "ONEDNN_MAX_CPU_ISA"
CHOICES = ("AVX2", "AVX2_VNNI", "AVX512_CORE", "AVX512_CORE_VNNI", "AVX512_CORE_BF16")


def add_argument(parser) -> None:  # type: ignore[no-untyped-def]
    parser.add_argument("--isa", choices=CHOICES,
                        help="emulate a CPU whose highest instruction set is this (oneDNN's ONEDNN_MAX_CPU_ISA), "
                             "e.g. AVX2 for a CPU without AVX-512 and AMX")


def apply(isa: str | None) -> str | None:
    """Set the limit for this process and its children; returns what is in force (for the figures)."""
    if isa:
        os.environ[ENV] = isa
    return os.environ.get(ENV)
