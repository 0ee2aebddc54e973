"""Home Assistant MQTT discovery: what each camera looks like in Home Assistant, as retained config
messages on ``<discovery prefix>/<component>/<node_id>/<object_id>/config`` (Home Assistant's
documented discovery topic), so its counts, occupancy and last event appear there with no YAML.

Each camera is one Home Assistant *device* (``device.identifiers``: ``<node_id>_<camera>``) and every
entity reads the camera's one retained state message (``<topic_prefix>/<camera>/state``, built by
``edge.cameras.camera_state``) through a ``value_template``. All entities follow the daemon's
availability topic (``<topic_prefix>/available``: ``online``, and ``offline`` as the last will).

Entities of a camera (``<c>`` a class name, ``<l>`` a line id, ``<z>`` a zone id):

| component | object_id | state |
| --- | --- | --- |
| sensor | ``<camera>_last_event`` | time of the last event (device_class timestamp); attributes: id, classes |
| sensor | ``<camera>_<c>_count`` | objects of class c in the latest frame |
| binary_sensor | ``<camera>_<c>_detected`` | ON while the latest frame has a c (device_class occupancy) |
| sensor | ``<camera>_<l>_<c>_in`` / ``_out`` | crossings of line l by class c (state_class total_increasing) |
| sensor | ``<camera>_<z>_<c>_occupancy`` | objects of class c in zone z now |
| binary_sensor | ``<camera>_<z>_occupied`` | ON while zone z holds anything (device_class occupancy) |

Everything here is a pure function of ids and names: no network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

import edge

NOT_ID_CHARS = re.compile(r"[^a-zA-Z0-9_-]")  # Home Assistant's node_id / object_id alphabet


def slug(text: str) -> str:
    """``text`` in the alphabet Home Assistant allows in a discovery topic's node_id and object_id."""
    return NOT_ID_CHARS.sub("_", text).strip("_") or "_"


@dataclass(frozen=True)
class Discovery:
    """Where one daemon's entities go: ``prefix`` is Home Assistant's discovery_prefix, ``node_id``
    names this daemon (its MQTT client id, made topic-safe), ``topic_prefix`` is ``mqtt.topic_prefix``."""

    prefix: str
    node_id: str
    topic_prefix: str

    @property
    def availability_topic(self) -> str:
        return f"{self.topic_prefix}/available"

    @property
    def birth_topic(self) -> str:
        """Home Assistant publishes ``online`` here when it starts (its MQTT integration's birth message)."""
        return f"{self.prefix}/status"

    def state_topic(self, camera_id: str) -> str:
        return f"{self.topic_prefix}/{camera_id}/state"

    def config_topic(self, component: str, object_id: str) -> str:
        return f"{self.prefix}/{component}/{self.node_id}/{object_id}/config"


def camera_entities(d: Discovery, camera_id: str, model: str, classes: list[str], lines: list[str],
                    zones: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """Every discovery config of one camera as (config topic, payload), in a stable order.

    ``classes``: the class names the camera announces (its ``classes`` filter, else its event classes);
    ``lines`` and ``zones``: the ids of its lines and zones. The state message these templates read
    always holds every one of these keys (``edge.cameras.camera_state`` fills zeros)."""
    state = d.state_topic(camera_id)
    device = {"identifiers": [f"{d.node_id}_{slug(camera_id)}"], "name": camera_id,
              "manufacturer": "yolo-edge", "model": f"camera analytics ({model})", "sw_version": edge.__version__}
    origin = {"name": "yolo-edge", "sw_version": edge.__version__}
    out: list[tuple[str, dict[str, Any]]] = []

    def add(component: str, key: str, name: str, template: str, **extra: Any) -> None:
        object_id = slug(f"{camera_id}_{key}")
        payload = {"name": name, "unique_id": f"{d.node_id}_{object_id}", "state_topic": state,
                   "value_template": template, "availability_topic": d.availability_topic,
                   "payload_available": "online", "payload_not_available": "offline",
                   "device": device, "origin": origin, **extra}
        out.append((d.config_topic(component, object_id), payload))

    add("sensor", "last_event", "last event",
        "{{ value_json['last_event']['time_iso'] if value_json['last_event'] else None }}",
        device_class="timestamp", json_attributes_topic=state,
        json_attributes_template="{{ (value_json['last_event'] or {}) | tojson }}", icon="mdi:cctv")
    for c in classes:
        count = f"value_json['detections'][{_quote(c)}]"
        add("sensor", f"{c}_count", f"{c} count", f"{{{{ {count} }}}}", state_class="measurement",
            icon="mdi:counter")
        add("binary_sensor", f"{c}_detected", f"{c} detected",
            f"{{{{ 'ON' if {count} > 0 else 'OFF' }}}}", device_class="occupancy")
    for line in lines:
        for c in classes:
            for direction in ("in", "out"):
                add("sensor", f"{line}_{c}_{direction}", f"{line} {c} {direction}",
                    f"{{{{ value_json['lines'][{_quote(line)}][{_quote(c)}][{_quote(direction)}] }}}}",
                    state_class="total_increasing", icon="mdi:transit-transfer")
    for zone in zones:
        occupancy = f"value_json['zones'][{_quote(zone)}]['occupancy']"
        for c in classes:
            add("sensor", f"{zone}_{c}_occupancy", f"{zone} {c} occupancy",
                f"{{{{ {occupancy}[{_quote(c)}] }}}}", state_class="measurement", icon="mdi:account-group")
        add("binary_sensor", f"{zone}_occupied", f"{zone} occupied",
            f"{{{{ 'ON' if ({occupancy}.values() | sum) > 0 else 'OFF' }}}}", device_class="occupancy")
    return out


def config_messages(entities: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, bytes, bool]]:
    """Discovery configs as retained MQTT messages (Home Assistant reads them again after a restart)."""
    return [(topic, orjson.dumps(payload), True) for topic, payload in entities]


def _quote(key: str) -> str:
    """``key`` as a Jinja string literal (single quotes; ids and class names may hold spaces)."""
    return "'" + key.replace("\\", "\\\\").replace("'", "\\'") + "'"
