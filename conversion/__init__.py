"""yolo-edge-convert: export YOLO checkpoints to OpenVINO bundles and prove them before they ship."""
