"""The set of models being served, loaded together and swapped as a whole.

A request looks its model up once and keeps that object, so a reload that swaps the set never
changes the model under a request in flight.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

from edge.config.settings import Config
from edge.errors import ModelError, ModelNotFound
from edge.inference.engine import Engine, LoadedModel
from edge.inference.repository import scan

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSet:
    models: dict[str, LoadedModel] = field(default_factory=dict)

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
    return ModelSet(models)
