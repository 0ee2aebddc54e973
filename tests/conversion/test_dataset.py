"""--data sources (folder, dataset yaml, video), unreadable files, labels, and the held-out split."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from conversion import dataset
from conversion.calibration import to_input
from edge.inference.letterbox import letterbox
from tests.support.conversion import coco8_yaml, images_folder, shared

pytestmark = [pytest.mark.ultralytics]


def test_folder_counts_unreadable(tmp_path: Path) -> None:
    folder = images_folder(tmp_path / "imgs", 5)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    (folder / "notes.txt").write_text("ignored: not an image suffix")
    found = dataset.collect(folder, tmp_path, "detect", None)
    assert (len(found.images), len(found.skipped), found.kind) == (5, 1, "folder")
    assert found.skipped[0].name == "broken.jpg"


def test_yaml_finds_images_and_labels(tmp_path: Path) -> None:
    found = dataset.collect(coco8_yaml(tmp_path), tmp_path, "detect", None)
    assert (len(found.images), found.kind, found.labelled) == (8, "yaml", True)


@pytest.mark.parametrize(
    ("name", "task", "kpt", "labelled"),
    [
        ("coco8", "detect", None, True),
        ("coco8", "segment", None, False),  # boxes cannot score masks: agreement instead
        ("coco8-seg", "segment", None, True),
        ("coco8-seg", "detect", None, True),  # polygons carry boxes
        ("coco8-pose", "pose", (17, 3), True),
        ("coco8", "pose", (17, 3), False),
    ],
)
def test_labels_must_fit_task(name: str, task: str, kpt: tuple[int, int] | None, labelled: bool,
                              tmp_path: Path) -> None:
    found = dataset.collect(coco8_yaml(tmp_path, name), tmp_path, task, kpt)
    assert found.labelled == labelled, found.label_note


def test_video_frames_sampled_evenly(tmp_path: Path) -> None:
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write MJPG video")
    frames = sorted((shared() / "coco128" / "images" / "train2017").glob("*.jpg"))[:40]
    for f in frames:
        writer.write(cv2.resize(cv2.imread(str(f)), (320, 240)))
    writer.release()
    found = dataset.collect(video, tmp_path, "detect", None, video_frames=10)
    assert (found.kind, len(found.images), found.labelled) == ("video", 10, False)
    indices = [int(p.stem.split("_")[1]) for p in found.images]
    assert indices == list(range(0, 40, 4))


@pytest.mark.parametrize(("n", "fraction", "held"), [(128, 0.3, 38), (8, 0.5, 4), (2, 0.9, 1), (3, 0.01, 1)])
def test_split_is_disjoint_and_stable(n: int, fraction: float, held: int) -> None:
    images = tuple(Path(f"/x/{i:03d}.jpg") for i in range(n))
    a = dataset.split(images, fraction)
    assert len(a.holdout) == held and not set(a.holdout) & set(a.calibration)
    assert set(a.holdout) | set(a.calibration) == set(images)
    assert a == dataset.split(images, fraction), "the same data gives the same split"


def test_calibration_input_is_the_runtime_letterbox() -> None:
    """Calibration sees exactly the daemon's pixels: edge.inference.letterbox, RGB, CHW, /255."""
    image = cv2.imread(str(next((shared() / "coco8" / "images" / "val").glob("*.jpg"))))
    tensor, box = to_input(image, (160, 160), 32)
    boxed, _ = letterbox(image, (160, 160), stride=32)
    assert tensor.shape == (1, 3, 160, 160) and tensor.dtype == np.float32
    np.testing.assert_array_equal((tensor[0].transpose(1, 2, 0)[:, :, ::-1] * 255).round().astype(np.uint8), boxed)
    assert box.input_shape == (160, 160)


def test_label_path_rule(tmp_path: Path) -> None:
    assert dataset.label_path(Path("/d/images/train/a.jpg")) == Path("/d/labels/train/a.txt")
    assert dataset.label_path(Path("/d/images/x/images/b.png")) == Path("/d/images/x/labels/b.txt")
    shutil.rmtree(tmp_path)
