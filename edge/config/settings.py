"""config.yaml -> frozen, typed settings, validated once at load.

Every section is a frozen dataclass; a field's metadata may carry ``check`` (a predicate) and
``expect`` (what a person should write instead). Unknown keys are errors, so a typo never passes
silently. Relative paths are taken relative to the config file.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from edge.config.cameras import CameraConfig, check_camera_ids
from edge.config.mqtt import MqttConfig
from edge.config.redact import redact_text
from edge.config.rules import rule as _rule
from edge.errors import ConfigError

DEVICES = ("CPU", "GPU", "NPU", "AUTO")
MODEL_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def is_model_id_or_empty(value: str) -> bool:
    return set(value) <= MODEL_ID_CHARS and not value.startswith(".")


def is_zmq_endpoint_or_empty(value: str) -> bool:
    """``""``, ``tcp://HOST:PORT`` (a fixed port: Frigate must know it) or ``ipc:///absolute/path`` (at
    most 107 bytes, the size of a Unix socket address)."""
    if value == "":
        return True
    if value.startswith("ipc://"):
        path = value[len("ipc://"):]
        return path.startswith("/") and len(path.encode()) <= 107 and "\0" not in path
    if value.startswith("tcp://"):
        host, _, port = value[len("tcp://"):].rpartition(":")
        return bool(host) and port.isdigit() and 1 <= int(port) <= 65535 and not any(c in host for c in "/ ;")
    return False


@dataclass(frozen=True)
class TlsConfig:
    """HTTPS for the daemon: a PEM certificate (chain) and its private key. Neither given: the systemd
    credentials ``tls_cert`` and ``tls_key`` when both exist, else plain HTTP."""

    cert_file: Path | None = None
    key_file: Path | None = None

    def validate(self, where: str) -> None:
        if (self.cert_file is None) != (self.key_file is None):
            raise ConfigError(f"{where}: give both cert_file and key_file, or neither")


@dataclass(frozen=True)
class ServerConfig:
    host: str = "0.0.0.0"
    port: int = _rule(8080, lambda v: 1 <= v <= 65535, "a port number 1-65535")
    max_body_mb: float = _rule(20.0, lambda v: 0 < v <= 1024, "a size in MB, above 0 and at most 1024")
    # Admission: requests past this many waiting or running get 503 + Retry-After at once.
    max_pending: int = _rule(16, lambda v: v >= 1, "an integer >= 1")
    # A client that has not sent its whole body in this time is cut off.
    body_timeout_s: float = _rule(30.0, lambda v: v > 0, "seconds above 0")
    # Largest image accepted, in megapixels, checked from the header before decoding.
    max_image_mpix: float = _rule(50.0, lambda v: v > 0, "megapixels above 0")
    # Requests per second per API key; 0 means unlimited.
    rate_limit_per_key: float = _rule(0.0, lambda v: v >= 0, "requests per second, 0 for no limit")
    # Bound on finishing in-flight requests at stop.
    drain_timeout_s: float = _rule(15.0, lambda v: v >= 0, "seconds, 0 or more")
    # Open connections at once; past it the longest-idle one is closed (kept under the open-file limit).
    max_connections: int = _rule(1024, lambda v: 8 <= v <= 1_000_000, "an integer from 8 to 1000000")
    # A connection that has not sent its request line and headers (or sits idle between requests on
    # keep-alive) this long is closed.
    idle_timeout_s: float = _rule(15.0, lambda v: 0 < v <= 3600, "seconds, above 0 and at most 3600")
    # Host names (or addresses) the Host header must name; empty: any. Guards against DNS rebinding.
    allowed_hosts: list[str] = _rule([])
    tls: TlsConfig = field(default_factory=TlsConfig)


@dataclass(frozen=True)
class ModelsConfig:
    dir: Path = Path("models")
    device: str = _rule("CPU", lambda v: v.split(":")[0].split(".")[0] in DEVICES, "one of " + ", ".join(DEVICES))
    cache_dir: Path | None = Path("var/cache/openvino")
    # Parallel inference requests per compiled shape; 0 lets OpenVINO choose for throughput.
    infer_requests: int = _rule(0, lambda v: v >= 0, "an integer >= 0")
    # CPU arithmetic for the layers that are not INT8: f32 answers as Ultralytics does on any CPU; bf16
    # (or auto, the CPU's own default: bf16 on AMX Xeons) runs FP32 models ~1.5x faster there, with
    # boxes moved by pixels (docs/benchmark.md, "Precision and shapes").
    cpu_precision: str = _rule("f32", lambda v: v in ("f32", "bf16", "auto"), "f32, bf16 or auto")
    # square: every request runs at the model's square input (a static export answers exactly as
    # Ultralytics does on that export). minimal: at the stride-padded rectangle of its image, as
    # Ultralytics' PyTorch predictor does (1280x720 at 640 runs 384x640: ~1.5x the throughput); a new
    # shape compiles in the background (2-4 s) while the square serves. The NPU keeps its fixed shape.
    shapes: str = _rule("square", lambda v: v in ("square", "minimal"), "square or minimal")
    # minimal: the most shapes compiled per model besides the square (each 40-110 MB of RSS for yolov8n INT8,
    # docs/benchmark.md "Shapes"); past it the least recently used is dropped. 0: the square only.
    max_shapes: int = _rule(8, lambda v: 0 <= v <= 64, "an integer from 0 to 64")
    # PUT /v1/models/{MODEL_ID}: the largest archive, and the largest total unpacked (MB) ...
    upload_max_mb: float = _rule(1024.0, lambda v: 0 < v <= 65536, "a size in MB, above 0 and at most 65536")
    # ... and the largest single file inside it (MB).
    upload_max_file_mb: float = _rule(512.0, lambda v: 0 < v <= 65536, "a size in MB, above 0 and at most 65536")


@dataclass(frozen=True)
class AuthConfig:
    enabled: bool = True
    api_keys_file: Path | None = None
    # Keys that may upload, replace and delete models (PUT/DELETE /v1/models/{MODEL_ID}); same line
    # format. None, and no systemd credential 'admin_keys': model management is off.
    admin_keys_file: Path | None = None


@dataclass(frozen=True)
class UrlFetchConfig:
    # Host names, IP addresses or CIDR networks the `url` field may fetch from. Empty: `url` is off.
    allow: list[str] = _rule([])
    timeout_s: float = _rule(10.0, lambda v: 0 < v <= 120, "seconds, above 0 and at most 120")
    max_mb: float = _rule(20.0, lambda v: 0 < v <= 1024, "a size in MB, above 0 and at most 1024")


@dataclass(frozen=True)
class DialectsConfig:
    """The NVR and home-automation dialects (docs/integrations.md)."""

    # The MODEL_ID behind DeepStack's /v1/vision/detection and DOODS's "default" detector; empty: the
    # first served model (by MODEL_ID) that finds boxes. Checked against the served models at start.
    detect_model: str = _rule("", is_model_id_or_empty, "a MODEL_ID (letters, digits, '.', '_', '-') or empty")
    # DeepStack answers carry at most this many predictions, best first: Frigate's deepstack detector
    # writes them into a fixed 20-row array and fails on a 21st.
    deepstack_max_predictions: int = _rule(20, lambda v: 1 <= v <= 300, "an integer from 1 to 300")
    # false: the DeepStack/CodeProject.AI and DOODS routes answer without an API key, as CodeProject.AI
    # does (Blue Iris, Agent DVR and the codeproject-ai-api client send none); HUB and Platform still need one.
    require_key: bool = True
    # Frigate's zmq detector (its frigate/detectors/plugins/zmq_ipc.py): "" is off; tcp://HOST:PORT or
    # ipc:///absolute/path is where the daemon listens for it. Bound at start (a reload keeps the old one).
    zmq_endpoint: str = _rule("", is_zmq_endpoint_or_empty,
                              '"" (off), tcp://HOST:PORT (e.g. tcp://0.0.0.0:5555) or ipc:///absolute/path')
    # The channel order of the tensors Frigate sends: its model.input_pixel_format (rgb by default). The
    # request does not say, so both sides must agree. Frigate's yuv is not read.
    zmq_pixel_format: str = _rule("rgb", lambda v: v in ("rgb", "bgr"),
                                  "rgb or bgr (Frigate's model.input_pixel_format; yuv is not supported)")


@dataclass(frozen=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    models: ModelsConfig = field(default_factory=ModelsConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    url_fetch: UrlFetchConfig = field(default_factory=UrlFetchConfig)
    dialects: DialectsConfig = field(default_factory=DialectsConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    cameras: list[CameraConfig] = field(default_factory=list)
    source: Path | None = None  # the file this came from, for messages


def load_config(path: str | Path, overrides: dict[str, dict[str, Any]] | None = None) -> Config:
    """Read, validate and freeze a config file; ``overrides`` (section -> key -> value) win."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    for section, values in (overrides or {}).items():
        raw.setdefault(section, {})
        if isinstance(raw[section], dict):
            raw[section].update(values)
    return config_from_dict(raw, source=path)


def config_from_dict(raw: dict[str, Any], source: Path | None = None) -> Config:
    where = str(source) if source else "config"
    base = source.parent if source else Path.cwd()
    sections = {}
    for f in dataclasses.fields(Config):
        if f.name == "source":
            continue
        hint = _hints(Config)[f.name]
        empty: Any = [] if typing.get_origin(hint) is list else {}
        sections[f.name] = _coerce(hint, raw.get(f.name) or empty, f"{where}: {f.name}", base)
    unknown = set(raw) - set(sections)
    if unknown:
        raise ConfigError(f"{where}: unknown section {sorted(unknown)[0]!r}; expected one of {sorted(sections)}")
    check_camera_ids(sections["cameras"], f"{where}: cameras")
    return Config(**sections, source=source)


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _build(cls: type, values: Any, where: str, base: Path) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a mapping, got {values!r}")
    hints = _hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - names
    if unknown:
        raise ConfigError(f"{where}.{sorted(unknown)[0]}: unknown key; expected one of {sorted(names)}")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in values:
            continue
        key = f"{where}.{f.name}"
        value = _coerce(hints[f.name], values[f.name], key, base)
        check = f.metadata.get("check")
        if check is not None and value is not None and not check(value):
            raise ConfigError(f"{key}: {redact_text(repr(values[f.name]))} is not {f.metadata.get('expect') or 'allowed'}")
        kwargs[f.name] = value
    obj = cls(**kwargs)
    if hasattr(obj, "validate"):  # checks that span fields
        obj.validate(where)
    return obj


def _coerce(hint: Any, value: Any, key: str, base: Path) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, key, base)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key}: {value!r} is not a list")
        return [_coerce(args[0], v, f"{key}[{i}]", base) for i, v in enumerate(value)]
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: {value!r} is not true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: {value!r} is not an integer")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: {value!r} is not a number")
        return float(value)
    if hint is str:
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise ConfigError(f"{key}: {value!r} is not a string")
        return str(value)
    if hint is Path:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{key}: {value!r} is not a path")
        p = Path(value).expanduser()
        return p if p.is_absolute() else (base / p)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, key, base)
    raise ConfigError(f"{key}: cannot read a value of type {hint}")  # a bug in this module
