"""Write a yolo11n-seg-dq checkpoint whose mask branch works, for the benches that need mask mAP.

shared/data's ``weights/yolo11n-seg-dq.pt`` was rebuilt from the INT8 IR
``models/yolo11n-seg_int8_openvino_model`` by loading every *Convolution* weight; the mask
prototype's 2x upsampling is a ConvTranspose2d (``ConvolutionBackpropData`` in the IR), so it kept
its random initialisation. Boxes are right (coco8-seg val: box mAP50-95 67.1 either way), masks are
not (mask mAP50-95 0.0; 56.2 once repaired). This loads that one layer from the same IR, dequantized
the way the IR stores it (int8 x per-output-channel scale, bias in the following Add).

    YOLO_EDGE_TEST_DATA=../shared/data python bench/repair_seg_dq.py --out /tmp/seg-weights
    python bench/gate_bench.py --models yolo11n-seg-dq --weights /tmp/seg-weights
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conversion_bench import shared_data

CHECKPOINT = "yolo11n-seg-dq.pt"
IR = Path("models") / "yolo11n-seg_int8_openvino_model" / "yolo11n-seg.xml"


def upsample_from_ir(xml: Path) -> tuple[np.ndarray, np.ndarray]:
    """The proto upsampling's float weight (C_in, C_out, 2, 2) and bias (C_out,) from the INT8 IR."""
    import openvino as ov

    model = ov.Core().read_model(xml)
    (deconv,) = [op for op in model.get_ordered_ops() if op.get_type_name() == "ConvolutionBackpropData"]
    scaled = deconv.input(1).get_source_output().get_node()  # Multiply(Convert(int8 const), scale)
    assert scaled.get_type_name() == "Multiply", scaled.get_type_name()
    convert = scaled.input(0).get_source_output().get_node()
    q = convert.input(0).get_source_output().get_node().get_data().astype(np.float32)
    scale = scaled.input(1).get_source_output().get_node().get_data()
    (add,) = [t.get_node() for t in deconv.output(0).get_target_inputs()]
    bias = add.input(1).get_source_output().get_node().get_data().reshape(-1).copy()  # get_data() is read-only
    return q * scale, bias


def repair(data: Path, out: Path) -> Path:
    import torch

    weight, bias = upsample_from_ir(data / IR)
    ckpt = torch.load(data / "weights" / CHECKPOINT, weights_only=False)
    model = ckpt["ema"] if ckpt.get("ema") is not None else ckpt["model"]
    upsample = model.model[-1].proto.upsample
    with torch.no_grad():
        upsample.weight.copy_(torch.from_numpy(weight).to(upsample.weight.dtype))
        upsample.bias.copy_(torch.from_numpy(bias).to(upsample.bias.dtype))
    out.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, out / CHECKPOINT)
    return out / CHECKPOINT


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, required=True, help="folder for the repaired yolo11n-seg-dq.pt")
    print(repair(shared_data(), p.parse_args().out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
