"""The ``dialects`` section of config.yaml: bad values fail at load with the key and what was expected,
and a ``detect_model`` that is not a served box model (or a ``zmq_endpoint`` with no box model to run)
fails at start (and on reload), not per request."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from edge.config.settings import config_from_dict
from edge.errors import ConfigError
from edge.inference.engine import LoadedModel
from edge.inference.model_set import ModelSet, check_detect_model
from edge.inference.repository import read_model_folder
from tests.support.shared_data import require_shared_data


@pytest.mark.parametrize("values, fragment", [
    ({"detect_model": "../etc"}, "dialects.detect_model: '../etc' is not a MODEL_ID"),
    ({"detect_model": 5}, None),  # an integer reads as the MODEL_ID "5", as elsewhere
    ({"deepstack_max_predictions": 0}, "dialects.deepstack_max_predictions: 0 is not an integer from 1 to 300"),
    ({"deepstack_max_predictions": 301}, "is not an integer from 1 to 300"),
    ({"deepstack_max_predictions": "20"}, "is not an integer"),
    ({"require_key": "no"}, "dialects.require_key: 'no' is not true or false"),
    ({"zmq_endpoint": "tcp://127.0.0.1:5555"}, None),
    ({"zmq_endpoint": "tcp://*:5555"}, None),
    ({"zmq_endpoint": "tcp://[::1]:5555"}, None),
    ({"zmq_endpoint": "ipc:///run/yolo-edge/frigate.sock"}, None),
    ({"zmq_endpoint": ""}, None),
    ({"zmq_endpoint": "tcp://127.0.0.1"}, "dialects.zmq_endpoint: 'tcp://127.0.0.1' is not \"\" (off), tcp://HOST:PORT"),
    ({"zmq_endpoint": "tcp://127.0.0.1:*"}, "is not \"\" (off)"),
    ({"zmq_endpoint": "tcp://127.0.0.1:70000"}, "is not \"\" (off)"),
    ({"zmq_endpoint": "tcp://:5555"}, "is not \"\" (off)"),
    ({"zmq_endpoint": "ipc://relative.sock"}, "or ipc:///absolute/path"),
    ({"zmq_endpoint": "ipc:///" + "x" * 120}, "or ipc:///absolute/path"),
    ({"zmq_endpoint": "udp://127.0.0.1:5555"}, "is not \"\" (off)"),
    ({"zmq_endpoint": 5555}, "is not \"\" (off)"),
    ({"zmq_pixel_format": "bgr"}, None),
    ({"zmq_pixel_format": "yuv"}, "dialects.zmq_pixel_format: 'yuv' is not rgb or bgr"),
    ({"zmq_pixel_format": "RGB"}, "is not rgb or bgr"),
    ({}, None),
    ({"detect_model": "yolo11n", "deepstack_max_predictions": 300, "require_key": False}, None),
])
def test_dialects_section(values: dict[str, Any], fragment: str | None) -> None:
    if fragment is None:
        config = config_from_dict({"dialects": values})
        assert config.dialects.require_key is values.get("require_key", True)
        return
    with pytest.raises(ConfigError) as info:
        config_from_dict({"dialects": values})
    assert fragment in str(info.value)


def uncompiled(model_id: str, folder: str) -> LoadedModel:
    """A served model's description without compiling it (the check reads only the spec)."""
    path = require_shared_data() / "models" / folder
    if not path.is_dir():
        pytest.skip(f"{folder} is absent from the shared data")
    return LoadedModel(read_model_folder(path, model_id), None, "CPU", "int8", False, 0.0)  # type: ignore[arg-type]


@pytest.mark.shared_data
@pytest.mark.parametrize("detect_model, fragment", [
    ("", None), ("yolov8n", None), ("seg", None),
    ("nosuch", "dialects.detect_model: model 'nosuch' is not served here; models on this device: cls, seg, yolov8n"),
    ("cls", "dialects.detect_model: model 'cls' is a classify model; this route needs one that finds boxes"),
])
def test_detect_model_must_be_served(detect_model: str, fragment: str | None) -> None:
    cls = uncompiled("cls", "yolov8n_int8_openvino_model")
    cls.spec = dataclasses.replace(cls.spec, task="classify")  # no classify export in the shared data
    models = ModelSet({"yolov8n": uncompiled("yolov8n", "yolov8n_int8_openvino_model"),
                       "seg": uncompiled("seg", "yolo11n-seg_int8_openvino_model"), "cls": cls})
    config = config_from_dict({"dialects": {"detect_model": detect_model}})
    if fragment is None:
        check_detect_model(models, config)
        assert models.default_detector(detect_model).spec.model_id == (detect_model or "seg")
        return
    with pytest.raises(ConfigError) as info:
        check_detect_model(models, config)
    assert fragment in str(info.value)


@pytest.mark.shared_data
@pytest.mark.parametrize("models, fragment", [
    (("yolov8n", "cls"), None),
    (("cls",), "dialects.zmq_endpoint: no model that finds boxes is served here; models on this device: cls"),
])
def test_zmq_needs_a_box_model(models: tuple[str, ...], fragment: str | None) -> None:
    """Frigate's zmq detector runs the ``detect_model`` rule's model: without one the start fails."""
    cls = uncompiled("cls", "yolov8n_int8_openvino_model")
    cls.spec = dataclasses.replace(cls.spec, task="classify")
    served = {"cls": cls, "yolov8n": uncompiled("yolov8n", "yolov8n_int8_openvino_model")}
    model_set = ModelSet({m: served[m] for m in models})
    config = config_from_dict({"dialects": {"zmq_endpoint": "tcp://127.0.0.1:5555"}})
    if fragment is None:
        check_detect_model(model_set, config)
        check_detect_model(ModelSet({"cls": cls}), config_from_dict({}))  # off: no box model needed
        return
    with pytest.raises(ConfigError) as info:
        check_detect_model(model_set, config)
    assert fragment in str(info.value)
