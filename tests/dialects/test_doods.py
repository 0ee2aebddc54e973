"""The DOODS dialect, driven by ``pydoods`` (what Home Assistant's ``doods`` integration uses) the way
that integration calls it; every answer is checked against the HUB answer for the same image and model."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.dialects.conftest import hub, one_json_body
from tests.support.daemon import Daemon

pytestmark = [pytest.mark.shared_data]

pydoods = pytest.importorskip("pydoods", reason="pip install pydoods (the test extra)")

DEFAULT = "yolo11n"  # no dialects.detect_model: the first box model by MODEL_ID


def same_as_hub(detections: list[dict[str, Any]], reference: list[dict[str, Any]], image: bytes) -> None:
    """Same order, labels, boxes as 0-1 fractions of the image, confidences in percent."""
    import cv2
    import numpy as np

    h, w = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR).shape[:2]
    assert [d["label"] for d in detections] == [r["name"] for r in reference]
    for d, r in zip(detections, reference):
        assert abs(d["confidence"] - r["confidence"] * 100) <= 1e-3
        b = r["box"]
        for ours, theirs, side in (("top", "y1", h), ("left", "x1", w), ("bottom", "y2", h), ("right", "x2", w)):
            assert abs(d[ours] - b[theirs] / side) <= 1e-6 + 1e-5 / side


def test_detectors_as_home_assistant_reads_them(keyed: Daemon) -> None:
    client = pydoods.PyDOODS(keyed.base_url, keyed.api_key, timeout=30)  # checks /detectors on creation
    detectors = client.get_detectors()["detectors"]
    assert [d["name"] for d in detectors] == ["default", "yolo11n", "yolov8n"]
    assert detectors[0]["model"] == DEFAULT
    for d in detectors:
        assert set(d) == {"name", "type", "model", "labels", "width", "height"}
        assert "person" in d["labels"] and len(d["labels"]) == 80
        assert isinstance(d["width"], int) and isinstance(d["height"], int)


@pytest.mark.parametrize("detector, model_id", [("default", DEFAULT), ("yolov8n", "yolov8n"), ("yolo11n", "yolo11n")])
@pytest.mark.parametrize("threshold", [40, 70])
def test_detect_matches_hub(keyed: Daemon, images: dict[str, bytes], detector: str, model_id: str,
                            threshold: float) -> None:
    client = pydoods.PyDOODS(keyed.base_url, keyed.api_key, timeout=30)
    found = 0
    for image in images.values():
        answer = client.detect(image, dconfig={"*": threshold}, detector_name=detector, id="cam1")
        assert answer["id"] == "cam1" and answer["duration"] > 0 and "error" not in answer
        same_as_hub(answer["detections"], hub(keyed, model_id, image, threshold / 100), image)
        found += len(answer["detections"])
    assert found > 0


def test_per_label_thresholds_and_regions(keyed: Daemon, images: dict[str, bytes]) -> None:
    """doods2's filter: a label named in ``detect`` is not matched by ``*``; a region catches what the
    global rules let through, with its id; ``covers`` needs the whole box inside."""
    client = pydoods.PyDOODS(keyed.base_url, keyed.api_key, timeout=30)
    for image in images.values():
        every = hub(keyed, DEFAULT, image, 0.25)
        named = client.detect(image, dconfig={"person": 80, "*": 30})["detections"]
        assert [d["label"] for d in named] == [r["name"] for r in every
                                              if r["confidence"] >= (0.8 if r["name"] == "person" else 0.3)]
        whole = {"id": "all", "top": 0, "left": 0, "bottom": 1, "right": 1, "detect": {"*": 25}, "covers": True}
        regional = requests.post(keyed.base_url + "/detect", headers={"doods-auth-key": keyed.api_key}, timeout=30,
                                 json={"data": pydoods.PyDOODS.encode_image(image), "detect": {"person": 100},
                                       "regions": [whole]}).json()["detections"]
        assert [d["label"] for d in regional] == [r["name"] for r in every]
        assert all(d.get("region_id") == "all" for d in regional if d["confidence"] < 100)
        nowhere = {"top": 0, "left": 0, "bottom": 0.001, "right": 0.001, "detect": {"*": 25}, "covers": True}
        assert client.detect(image, dconfig={}, detector_name="default")["detections"] == []  # doods2: no rule, no match
        r = requests.post(keyed.base_url + "/detect", headers={"doods-auth-key": keyed.api_key}, timeout=30,
                          json={"data": pydoods.PyDOODS.encode_image(image), "regions": [nowhere]})
        one_json_body(r)
        assert r.json()["detections"] == []


def test_keys(keyed: Daemon, keyless: Daemon, images: dict[str, bytes]) -> None:
    """DOODS's ``doods-auth-key`` (Home Assistant's ``auth_key``) carries our key; without
    ``dialects.require_key`` none is needed."""
    image = next(iter(images.values()))
    with pytest.raises(requests.HTTPError) as info:
        pydoods.PyDOODS(keyed.base_url, "wrong", timeout=30)
    assert info.value.response.status_code == 401
    assert set(info.value.response.json()) == {"detections", "error"}
    with pytest.raises(requests.HTTPError):
        pydoods.PyDOODS(keyed.base_url, None, timeout=30)
    open_client = pydoods.PyDOODS(keyless.base_url, None, timeout=30)
    answer = open_client.detect(image, dconfig={"*": 40})
    same_as_hub(answer["detections"], hub(keyless, "yolov8n", image, 0.4), image)
