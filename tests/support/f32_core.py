"""``ov.Core`` asking every CPU compilation for f32, as the daemon does (``compile_options``).

Ultralytics, the reference in the tests and the baseline in the benchmarks, compiles OpenVINO models
with the device's default precision: bf16 on CPUs with AMX or AVX512-BF16, and kernels that refuse to
compile when the benchmark limits oneDNN below AVX-512 (``bench/cpu_isa.py``). Patched in, both sides
compute what they compute on any other CPU.
"""

from __future__ import annotations


def patch_openvino_core_to_f32() -> None:
    import openvino as ov

    if getattr(ov.Core, "native", None) is not None:  # already patched
        return

    class F32Core(ov.Core):
        native = ov.Core  # the unpatched class, for tests of the device's own defaults

        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            self.set_property("CPU", {"INFERENCE_PRECISION_HINT": "f32"})

    ov.Core = F32Core  # type: ignore[misc]
