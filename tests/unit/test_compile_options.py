"""How models are compiled: f32 arithmetic on every CPU unless config says otherwise, read back from a
real compiled model; INT8 dynamic exports static per shape only on AMX CPUs."""

from __future__ import annotations

import numpy as np
import openvino as ov
import pytest
from openvino import opset13 as ops

from edge.inference import compile_options
from edge.inference.compile_options import compile_properties, static_per_shape


def tiny_model() -> ov.Model:
    x = ops.parameter([1, 8], ov.Type.f32, name="x")
    w = ops.constant(np.ones((8, 4), np.float32))
    return ov.Model([ops.matmul(x, w, False, False)], [x], "tiny")


@pytest.mark.parametrize("cpu_precision, expected", [("f32", ov.Type.f32), ("bf16", None), ("auto", None)])
def test_cpu_precision_reaches_the_compiled_model(cpu_precision: str, expected: ov.Type | None) -> None:
    core = getattr(ov.Core, "native", ov.Core)()  # not the conftest's f32 reference core
    properties = compile_properties("CPU", "LATENCY", cpu_precision)
    assert properties["PERFORMANCE_HINT"] == "LATENCY"
    compiled = core.compile_model(tiny_model(), "CPU", properties)
    got = compiled.get_property("INFERENCE_PRECISION_HINT")
    native = core.get_property("CPU", "INFERENCE_PRECISION_HINT")  # bf16 where the CPU has it
    if expected is not None:
        assert got == expected
    elif cpu_precision == "auto":
        assert "INFERENCE_PRECISION_HINT" not in properties and got == native
    else:  # bf16 asked: granted where the CPU computes bf16, else OpenVINO stays at f32
        assert got == (ov.Type.bf16 if native == ov.Type.bf16 else ov.Type.f32)


def test_other_devices_get_no_cpu_precision() -> None:
    assert compile_properties("GPU", "THROUGHPUT") == {"PERFORMANCE_HINT": "THROUGHPUT"}
    assert compile_properties("NPU", "LATENCY", "bf16") == {"PERFORMANCE_HINT": "LATENCY"}


@pytest.mark.parametrize("device, precision, dynamic, amx, expected", [
    ("CPU", "int8", True, True, True),
    ("CPU", "int8", True, False, False),   # no AMX: one dynamic compilation
    ("CPU", "int8", False, True, False),   # static export: its own shape
    ("CPU", "fp32", True, True, False),    # dynamic float kernels are fine on AMX
    ("GPU", "int8", True, True, False),
])
def test_static_per_shape_only_for_int8_dynamic_on_amx(monkeypatch: pytest.MonkeyPatch, device: str, precision: str,
                                                       dynamic: bool, amx: bool, expected: bool) -> None:
    monkeypatch.setattr(compile_options, "cpu_has_amx_int8", lambda: amx)
    assert static_per_shape(device, precision, dynamic) is expected
