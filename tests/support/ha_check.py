"""Run by a Python that has the ``homeassistant`` package (not ours: tests/cameras/test_ha_discovery.py
starts it as ``$HOMEASSISTANT_PYTHON tests/support/ha_check.py job.json``).

job.json: ``{"entities": [[config topic, payload], ...], "state": "<the state message>"}``. For each
entity, what Home Assistant's MQTT integration does with a discovery message: the topic through its
discovery topic matcher, the payload through the component's DISCOVERY_SCHEMA (and the origin
schema), then the value_template (and json_attributes_template) rendered by its template engine on the
state message, and the result read the way the sensor / binary_sensor would (a number for a
state_class, a datetime for device_class timestamp, payload_on/payload_off for a binary sensor).

Prints ``{"errors": {object_id: message}, "states": {object_id: rendered}}``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from typing import Any

import voluptuous as vol
from homeassistant.components.mqtt import binary_sensor, sensor
from homeassistant.components.mqtt.abbreviations import ABBREVIATIONS
from homeassistant.components.mqtt.discovery import SUPPORTED_COMPONENTS, TOPIC_MATCHER
from homeassistant.components.mqtt.mixins import MQTT_ORIGIN_INFO_SCHEMA
from homeassistant.components.mqtt.models import MqttValueTemplate
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

SCHEMAS = {"sensor": sensor.DISCOVERY_SCHEMA, "binary_sensor": binary_sensor.DISCOVERY_SCHEMA}


def check(hass: HomeAssistant, topic: str, payload: dict[str, Any], state: bytes) -> str:
    prefix, _, rest = topic.partition("/")
    match = TOPIC_MATCHER.match(rest)
    if prefix != "homeassistant" or not match:
        raise ValueError(f"not a discovery topic: {topic}")
    component = match.group(1)
    if component not in SUPPORTED_COMPONENTS:
        raise ValueError(f"component {component} not supported")
    payload = {ABBREVIATIONS.get(k, k): v for k, v in payload.items()}
    MQTT_ORIGIN_INFO_SCHEMA(payload["origin"])
    config = SCHEMAS[component](payload)
    template = config["value_template"]
    template.hass = hass
    value = str(MqttValueTemplate(template, hass=hass).async_render_with_possible_json_value(state))
    if component == "binary_sensor" and value not in (config["payload_on"], config["payload_off"]):
        raise ValueError(f"{value!r} is neither payload_on nor payload_off")
    if component == "sensor":
        if config.get("device_class") == "timestamp" and value != "None" and dt_util.parse_datetime(value) is None:
            raise ValueError(f"{value!r} is not a timestamp")
        if config.get("state_class"):
            float(value)
    if "json_attributes_template" in config:
        attrs = config["json_attributes_template"]
        attrs.hass = hass
        rendered = MqttValueTemplate(attrs, hass=hass).async_render_with_possible_json_value(state)
        if not isinstance(json.loads(rendered), dict):
            raise ValueError(f"json_attributes_template gave {rendered!r}, not an object")
    return value


async def main(job_path: str) -> None:
    with open(job_path) as f:  # noqa: ASYNC230 (a one-shot script)
        job = json.load(f)
    state = job["state"].encode()
    with tempfile.TemporaryDirectory() as config_dir:
        hass = HomeAssistant(config_dir)
        errors, states = {}, {}
        for topic, payload in job["entities"]:
            object_id = topic.split("/")[-2]
            try:
                states[object_id] = check(hass, topic, payload, state)
            except (vol.Invalid, ValueError, KeyError) as exc:
                errors[object_id] = f"{type(exc).__name__}: {exc}"
    print(json.dumps({"errors": errors, "states": states}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
