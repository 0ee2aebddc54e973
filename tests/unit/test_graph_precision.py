"""The precision an export's metadata declares, read as Ultralytics writes it. Ultralytics 8.4 records
``quantize`` (8, 16, 32 or an alias) and no longer ``int8`` / ``half``: an INT8 export read as FP32 runs
through OpenVINO's dynamic INT8 kernels on AMX CPUs (``compile_options.static_per_shape``) and is listed
as fp32 by ``/v1/models``."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from edge.inference.repository import declared_precision, read_model_folder
from tests.support.conversion import coco8_yaml


@pytest.mark.ultralytics
def test_every_quantize_alias_of_ultralytics_is_read_as_it_means() -> None:
    from ultralytics.cfg import QUANTIZE_ALIASES

    canonical = {8: "int8", 16: "fp16", 32: "fp32"}
    for alias, scheme in QUANTIZE_ALIASES.items():
        # w8a16 / w8a32 are weight-only schemes of other formats: the graph tells (None)
        assert declared_precision({"quantize": alias}) == canonical.get(scheme), alias
    for number, name in canonical.items():
        assert declared_precision({"quantize": number}) == name


def test_older_exports_and_missing_args() -> None:
    assert declared_precision({"int8": True, "half": False}) == "int8"
    assert declared_precision({"int8": False, "half": True}) == "fp16"
    assert declared_precision({"batch": 1}) == "fp32"
    assert declared_precision({}) is None
    assert declared_precision({"quantize": "w8a16"}) is None


@pytest.mark.slow
@pytest.mark.ultralytics
@pytest.mark.shared_data
def test_an_ultralytics_int8_export_is_served_as_int8(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ultralytics' own INT8 export (``quantize=8``, dynamic, as the issue's benchmarks use it) is int8
    to the daemon: in its spec and in what the engine compiles (on an AMX CPU, one static compilation
    per shape)."""
    from ultralytics import YOLO

    from edge.inference.compile_options import cpu_has_amx_int8
    from edge.inference.engine import Engine
    from edge.inference.shape_pools import ShapePools

    data = coco8_yaml(tmp_path)
    monkeypatch.chdir(tmp_path)  # a model built from a yaml exports into the working directory
    folder = Path(YOLO("yolov8n.yaml").export(format="openvino", quantize=8, dynamic=True, imgsz=64, data=str(data),
                                              fraction=1.0, device="cpu", verbose=False))
    args = yaml.safe_load((folder / "metadata.yaml").read_text())["args"]
    assert args.get("quantize") == 8 and "int8" not in args  # what 8.4 writes
    spec = read_model_folder(folder, "m")
    assert spec.precision == "int8" and spec.dynamic is True
    loaded = Engine("CPU").load(spec)
    assert loaded.precision == "int8" and loaded.describe()["precision"] == "int8"
    assert isinstance(loaded.pool, ShapePools) == cpu_has_amx_int8()
    # and the engine reads the graph (FakeQuantize), as Ultralytics does, whatever the metadata says
    (folder / "metadata.yaml").write_text((folder / "metadata.yaml").read_text().replace("quantize: 8", "quantize: 32"))
    assert Engine("CPU").load(read_model_folder(folder, "m")).precision == "int8"
