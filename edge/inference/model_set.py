"""The set of models being served, loaded together and swapped as a whole.

A request looks its model up once and keeps that object, so a reload that swaps the set never
changes the model under a request in flight.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

from edge.config.settings import Config
from edge.errors import BadRequest, ConfigError, EdgeError, ModelError, ModelNotFound
from edge.inference.engine import Engine, LoadedModel
from edge.inference.repository import scan

logger = logging.getLogger(__name__)


BOX_TASKS = ("detect", "segment", "pose", "obb")  # the tasks whose answers carry boxes


@dataclass(frozen=True)
class ModelSet:
    models: dict[str, LoadedModel] = field(default_factory=dict)

    def detectors(self) -> list[LoadedModel]:
        """The models that find boxes, by MODEL_ID (what box-only dialects such as DeepStack can run)."""
        return [self.models[m] for m in sorted(self.models) if self.models[m].spec.task in BOX_TASKS]

    def detector(self, model_id: str) -> LoadedModel:
        """``model_id`` if it finds boxes; ModelNotFound when absent, BadRequest when it does not."""
        model = self.get(model_id)
        if model.spec.task not in BOX_TASKS:
            raise BadRequest(f"model {model_id!r} is a {model.spec.task} model; this route needs one that finds "
                             f"boxes ({', '.join(BOX_TASKS)}): {', '.join(m.spec.model_id for m in self.detectors())}")
        return model

    def default_detector(self, preferred: str = "") -> LoadedModel:
        """``preferred`` (``dialects.detect_model``) when set, else the first model that finds boxes."""
        if preferred:
            return self.detector(preferred)
        found = self.detectors()
        if not found:
            raise ModelNotFound("no model that finds boxes is served here; models on this device: "
                                f"{', '.join(sorted(self.models)) or 'none'}")
        return found[0]

    def get(self, model_id: str) -> LoadedModel:
        try:
            return self.models[model_id]
        except KeyError:
            known = ", ".join(sorted(self.models)) or "none"
            raise ModelNotFound(f"model {model_id[:40]!r} is not served here; models on this device: {known}") from None

    def __len__(self) -> int:
        return len(self.models)


def load_model_set(engine: Engine, config: Config, progress: Callable[[str], None] | None = None) -> ModelSet:
    """Scan ``models.dir`` and compile + warm every model. Blocking. A broken folder raises ModelError."""
    specs = scan(config.models.dir)
    if not specs:
        raise ModelError(f"models.dir {config.models.dir} holds no model folder; put an Ultralytics OpenVINO "
                         "export there (yolo export format=openvino, or yolo-edge-convert)")
    models = {}
    for n, (model_id, spec) in enumerate(specs.items(), 1):
        if progress:
            progress(f"compiling model {n}/{len(specs)}: {model_id}")
        models[model_id] = engine.load(spec)
    loaded = ModelSet(models)
    check_detect_model(loaded, config)
    return loaded


def check_detect_model(models: ModelSet, config: Config) -> None:
    """``dialects.detect_model``, when set, must name a served model that finds boxes, and with
    ``dialects.zmq_endpoint`` set some model must find boxes (Frigate's zmq detector runs it): fail at start."""
    dialects = config.dialects
    if dialects.detect_model or dialects.zmq_endpoint:
        try:
            models.default_detector(dialects.detect_model)
        except EdgeError as exc:
            where = config.source or "config"
            key = "detect_model" if dialects.detect_model else "zmq_endpoint"
            raise ConfigError(f"{where}: dialects.{key}: {exc}") from None
