"""``yolo-edge-convert``: the command line of the conversion tool."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import warnings
from pathlib import Path

from conversion.errors import ConversionError, PushError, UsageError
from conversion.interrupt import exit_code, interruptible, signal_of
from conversion.shapes import parse_shape

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="yolo-edge-convert",
        description="Convert an Ultralytics YOLO .pt checkpoint to an OpenVINO bundle the yolo-edge daemon "
                    "serves, prove its accuracy against FP32 on held-out images and measure its speed.",
    )
    p.add_argument("source", metavar="SOURCE", help="a YOLO .pt checkpoint (or a release name like yolo11n.pt)")
    p.add_argument("--precision", required=True, choices=("fp32", "fp16", "int8"))
    p.add_argument("--out", required=True, type=Path, metavar="DIR",
                   help="the models folder; the bundle is written to DIR/MODEL_ID")
    p.add_argument("--id", dest="model_id", metavar="MODEL_ID", help="bundle folder name (default: <stem>-<precision>)")
    p.add_argument("--data", metavar="PATH", help="calibration and held-out images: a folder, a dataset yaml or a video")
    p.add_argument("--val", metavar="PATH",
                   help="held-out images for the gate (folder, yaml or video); default: --holdout of --data")
    p.add_argument("--imgsz", nargs="+", type=int, metavar="N",
                   help="input size: N, or H W (default: 640; classify: the size the checkpoint was trained at)")
    p.add_argument("--device", default="CPU", type=str.upper, choices=("CPU", "GPU", "NPU", "AUTO"),
                   help="where the model will run; gate and benchmark run there (default CPU)")
    p.add_argument("--dynamic", action="store_true", help="export dynamic input shapes (not for NPU)")
    p.add_argument("--end2end", action="store_true",
                   help="YOLO26 / YOLOv10: export the NMS-free head (no NMS on the box; default: Ultralytics' "
                        "one-to-many head with NMS after it)")
    p.add_argument("--shapes", nargs="+", default=[], metavar="SHAPE",
                   help="with --dynamic: input shapes the daemon compiles at start (models.shapes: minimal), "
                        "HEIGHTxWIDTH (384x640) or an aspect ratio WIDTH:HEIGHT (16:9 4:3)")
    p.add_argument("--max-drop", type=float, default=1.0, metavar="POINTS",
                   help="largest mAP50-95 drop against FP32 that passes the gate, in points (default 1.0)")
    p.add_argument("--max-agreement-drop", type=float, metavar="POINTS",
                   help="without labels: largest drop of agreement with FP32 that passes, in points "
                        "(default: the agreement drop that goes with --max-drop; docs/conversion.md)")
    p.add_argument("--force", action="store_true", help="replace an existing bundle; write even past --max-drop")
    p.add_argument("--quiet", action="store_true", help="no progress bars, only warnings and errors")
    p.add_argument("--holdout", type=float, default=0.3, metavar="FRACTION",
                   help="fraction of --data held out from calibration for the gate (default 0.3)")
    p.add_argument("--recipe", default="yolo-edge", choices=("yolo-edge", "ultralytics"),
                   help="INT8 recipe (default yolo-edge; 'ultralytics' is its stock export recipe)")
    p.add_argument("--no-accuracy-control", dest="accuracy_control", action="store_false",
                   help="do not try NNCF accuracy-controlled quantization when the gate fails")
    p.add_argument("--accuracy-control-seconds", type=float, default=180.0, metavar="S",
                   help="time limit of accuracy-controlled quantization; past it the first model is kept "
                        "(default 180)")
    p.add_argument("--push", action="append", default=[], metavar="URL",
                   help="after the gate, upload the bundle to this box (http://box:8080; repeat for several)")
    p.add_argument("--push-key-file", type=Path, metavar="PATH",
                   help="a file holding the boxes' admin key (default: $YOLO_EDGE_ADMIN_KEY)")
    p.add_argument("--bench-seconds", type=float, default=12.0, metavar="S",
                   help="benchmark time per model and mode; 0 skips the speed report (default 12)")
    return p


def parse_imgsz(values: list[int]) -> tuple[int, int]:
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or min(values) < 32:
        raise UsageError(f"--imgsz {' '.join(map(str, values))}: give N or H W, each at least 32")
    return values[0], values[1]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(levelname)s %(message)s",
                        stream=sys.stderr)
    if not args.quiet and not sys.stderr.isatty():
        # a log file or journald: Ultralytics' validation bars redraw with \r (it draws them only when its
        # logger is at INFO; importing it sets the level, so import first); our own steps log one line each
        from ultralytics.utils import LOGGER

        LOGGER.setLevel(logging.WARNING)
    if args.quiet:
        os.environ["YOLO_VERBOSE"] = "False"
        warnings.filterwarnings("ignore", category=FutureWarning)  # torch.jit deprecation chatter
    import nncf

    nncf.set_log_level(logging.WARNING)
    os.environ.setdefault("YOLO_OFFLINE", "1") if not os.environ.get("YOLO_EDGE_ONLINE") else None
    from conversion.options import Options
    from conversion.pipeline import run

    try:
        push_key = admin_key(args.push_key_file) if args.push else ""
        imgsz = parse_imgsz(args.imgsz) if args.imgsz else None
        opts = Options(
            source=args.source, precision=args.precision, out=args.out, model_id=args.model_id, data=args.data, val=args.val,
            imgsz=imgsz, device=args.device, dynamic=args.dynamic, max_drop=args.max_drop,
            max_agreement_drop=args.max_agreement_drop,
            force=args.force, quiet=args.quiet, holdout=args.holdout, recipe=args.recipe,
            accuracy_control=args.accuracy_control, accuracy_control_seconds=args.accuracy_control_seconds,
            bench_seconds=args.bench_seconds, end2end=args.end2end,
            # an aspect ratio is taken within --imgsz (a detector's default 640 when not given)
            shapes=tuple(dict.fromkeys(parse_shape(s, imgsz or (640, 640)) for s in args.shapes)),
        )
        # stdout carries only the bundle path; chatter from Ultralytics and NNCF goes to stderr (or nowhere)
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull if args.quiet else sys.stderr), \
                interruptible():
            bundle = run(opts)
    except ConversionError as exc:
        print(f"yolo-edge-convert: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        print(f"yolo-edge-convert: interrupted ({signal_of(exc).name}); no bundle written, "
              "temporary files removed", file=sys.stderr)
        return exit_code(exc)
    print(bundle)
    return push_bundle(bundle, args.push, push_key) if args.push else 0


def admin_key(key_file: Path | None) -> str:
    """The admin key for --push, read before converting so a missing key fails in seconds, not after."""
    from edge.errors import ConfigError
    from edge.http.model_push import read_admin_key

    try:
        return read_admin_key(key_file)
    except ConfigError as exc:
        raise UsageError(f"--push: {exc}") from None


def push_bundle(bundle: Path, urls: list[str], key: str) -> int:
    """Upload the written bundle to every box, one line each on stderr (stdout keeps only the path)."""
    from edge.errors import EdgeError
    from edge.http.model_push import push

    try:
        results = push(bundle, urls, key)
    except EdgeError as exc:
        results = []
        print(f"yolo-edge-convert: error: --push: {exc}", file=sys.stderr)
    for result in results:
        print(f"push: {result.line()}", file=sys.stderr)
    if results and all(r.ok for r in results):
        return 0
    failed = len(urls) - sum(r.ok for r in results)
    print(f"yolo-edge-convert: error: {PushError(f'{failed} of {len(urls)} boxes did not take the bundle {bundle}')}",
          file=sys.stderr)
    return PushError.exit_code


if __name__ == "__main__":
    sys.exit(main())
