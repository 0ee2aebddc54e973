"""FP32 export through Ultralytics' own OpenVINO exporter, and saving IR variants as bundles.

The FP32 IR is exactly what ``yolo export format=openvino`` writes (graph, rt_info, metadata.yaml).
FP16 is that graph saved with ``compress_to_fp16`` (what Ultralytics' ``quantize=16`` does); INT8
is the NNCF-quantized graph (see ``conversion.quantize``).
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

import yaml

from conversion.errors import SourceError
from conversion.source import SourceModel

logger = logging.getLogger(__name__)


def export_fp32(source: SourceModel, workdir: Path, imgsz: tuple[int, int], dynamic: bool,
                end2end: bool = False) -> Path:
    """Export ``source`` to an FP32 OpenVINO folder under ``workdir``; returns the folder.

    The checkpoint is copied first: Ultralytics writes its export next to the ``.pt``, and the
    source may sit on a read-only disk. ``imgsz`` is (h, w); batch is 1. ``end2end``: export the
    NMS-free (one-to-one) head of a YOLO26 / YOLOv10 model, as ``yolo export nms=False`` does; by
    default Ultralytics 8.4 exports its one-to-many head, for NMS after the model.
    """
    if end2end and not has_end2end_head(source.model):
        raise SourceError(f"{source.path}: --end2end needs a model with an NMS-free head (YOLO26, YOLOv10); "
                          "this one has none.")
    from ultralytics import YOLO

    os.environ.setdefault("YOLO_OFFLINE", "1")
    src = workdir / "fp32" / (source.path.stem + ".pt")
    src.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source.path, src)
    try:
        out = YOLO(str(src)).export(
            format="openvino", imgsz=list(imgsz), dynamic=dynamic, batch=1, device="cpu", verbose=False,
            **({"nms": False} if end2end else {}),
        )
    except Exception as exc:  # Ultralytics wraps tracer/convert failures in assorted types
        raise SourceError(f"{source.path}: Ultralytics' OpenVINO export failed ({type(exc).__name__}: {exc}).") from exc
    folder = Path(out)
    if not any(folder.glob("*.xml")) or not (folder / "metadata.yaml").is_file():
        raise SourceError(f"{source.path}: the OpenVINO export wrote no IR in {folder}.")
    return folder


def has_end2end_head(yolo: Any) -> bool:
    """Whether a loaded ``ultralytics.YOLO`` has the one-to-one head an NMS-free export runs."""
    layers = getattr(getattr(yolo, "model", None), "model", None)
    return layers is not None and getattr(layers[-1], "one2one_cv2", None) is not None


def read_metadata(folder: Path) -> dict[str, Any]:
    """The Ultralytics ``metadata.yaml`` of an IR folder as a dict."""
    return yaml.safe_load((folder / "metadata.yaml").read_text())


def ir_file(folder: Path) -> Path:
    """The single ``*.xml`` of an IR folder."""
    xmls = sorted(folder.glob("*.xml"))
    if len(xmls) != 1:
        raise SourceError(f"{folder}: expected one .xml, found {len(xmls)}.")
    return xmls[0]


def save_ir(ov_model: Any, metadata: dict[str, Any], folder: Path, stem: str, precision: str) -> Path:
    """Write ``ov_model`` and its Ultralytics ``metadata.yaml`` into ``folder``; returns the xml path.

    ``precision`` is fp32, fp16 or int8; the metadata ``args`` say which, like Ultralytics' export.
    FP16 stores weights as f16; INT8 keeps its non-quantized weights in f32 (as Ultralytics does).
    """
    import openvino as ov

    folder.mkdir(parents=True, exist_ok=True)
    xml = folder / f"{stem}.xml"
    ov.save_model(ov_model, xml, compress_to_fp16=precision == "fp16")
    meta = dict(metadata)
    args = dict(meta.get("args") or {})
    args["quantize"] = {"fp32": None, "fp16": 16, "int8": 8}[precision]  # Ultralytics >= 8.4
    args["half"] = precision == "fp16"  # what older Ultralytics and the daemon's model_repo read
    args["int8"] = precision == "int8"
    meta["args"] = args
    (folder / "metadata.yaml").write_text(yaml.safe_dump(meta, sort_keys=False, allow_unicode=True))
    return xml
