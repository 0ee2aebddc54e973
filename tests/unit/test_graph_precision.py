"""The daemon takes a model's precision from its graph (FakeQuantize: INT8), as Ultralytics does, never
from the export's metadata: Ultralytics 8.4 records an INT8 export as ``quantize: 8`` (no longer
``int8: true``), and such an export read as FP32 ran through OpenVINO's dynamic INT8 kernels on AMX CPUs
(``compile_options.static_per_shape``) and was listed as fp32 by ``/v1/models``."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from edge.inference.repository import read_model_folder
from tests.support.conversion import coco8_yaml


@pytest.mark.slow
@pytest.mark.ultralytics
@pytest.mark.shared_data
def test_an_ultralytics_int8_export_is_served_as_int8(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ultralytics' own INT8 export (``quantize=8``, dynamic, as the issue's benchmarks use it) is int8
    to the daemon: in what the engine compiles (on an AMX CPU, one static compilation per shape) and in
    what ``/v1/models`` lists, whatever the metadata says."""
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
    assert spec.dynamic is True
    loaded = Engine("CPU").load(spec)
    assert loaded.precision == "int8" and loaded.describe()["precision"] == "int8"
    assert isinstance(loaded.pool, ShapePools) == cpu_has_amx_int8()
    # metadata that says FP32 changes nothing: the graph decides
    (folder / "metadata.yaml").write_text((folder / "metadata.yaml").read_text().replace("quantize: 8", "quantize: 32"))
    assert Engine("CPU").load(read_model_folder(folder, "m")).precision == "int8"
