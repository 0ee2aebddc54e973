"""How every model is compiled, decided in one place (the daemon, the conversion gate, the benchmarks
and the parity tests all ask here). No OpenVINO import: the conversion tool reads it before loading one.
"""

from __future__ import annotations

from pathlib import Path


def compile_properties(device: str, hint: str, cpu_precision: str = "f32") -> dict[str, str]:
    """What every compilation of ours asks for. On CPU, f32 arithmetic by default: CPUs with AMX or
    AVX512-BF16 (Xeon since Sapphire Rapids) otherwise default to bf16, whose rounding moves boxes by
    pixels and confidences by points, differently for graphs that are equal in f32 (pre-processing in
    the graph or not, static or dynamic shapes); the answer would depend on the CPU model. INT8 layers
    stay INT8. ``cpu_precision`` "bf16" or "auto" (the CPU's default) trade that for speed."""
    properties = {"PERFORMANCE_HINT": hint}
    if device.split(":")[0] == "CPU" and cpu_precision != "auto":
        properties["INFERENCE_PRECISION_HINT"] = cpu_precision
    return properties


def cpu_has_amx_int8(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    try:
        return "amx_int8" in cpuinfo.read_text()
    except OSError:
        return False


def static_per_shape(device: str, precision: str, dynamic: bool) -> bool:
    """Whether a model runs as one static compilation per input shape (``shape_pools``): INT8 with
    dynamic shapes on a CPU with AMX, as Ultralytics runs it there (OpenVINO's dynamic INT8 kernels
    crash on small inputs there, openvinotoolkit/openvino#37577)."""
    return dynamic and precision == "int8" and device == "CPU" and cpu_has_amx_int8()
