"""MQTT publishing figures: messages per second through ``MqttPublisher`` (queue, one QoS 1 message
acknowledged before the next) next to paho-mqtt's own threaded client publishing the same messages
with up to 20 in flight (the library alone, no ordering guarantee), each plain and over TLS, on a
local mosquitto started here; and the time from a broker restart to the first message delivered again.

    nice .venv/bin/python bench/mqtt_bench.py [--messages 2000] [--size 2000]

Prints one JSON object. Needs mosquitto and openssl (scripts/install_system_deps.sh).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import paho.mqtt.client as paho

from edge.cameras.mqtt_publisher import MqttPublisher
from edge.config.mqtt import MqttConfig, MqttTlsConfig
from tests.support.cameras import Mosquitto
from tests.support.pki import Pki, make_pki


def ours(port: int, pki: Pki | None, n: int, payload: bytes) -> float:
    tls = MqttTlsConfig(enabled=True, ca_file=pki.ca, cert_file=pki.client_cert, key_file=pki.client_key) \
        if pki else MqttTlsConfig()
    cfg = MqttConfig(host="127.0.0.1", port=port, topic_prefix="bench", queue_size=n + 10, tls=tls)

    async def run() -> float:
        pub = MqttPublisher(cfg, environ={})
        pub.start()
        while not pub.connected:
            await asyncio.sleep(0.01)
        start = time.perf_counter()
        for _ in range(n):
            pub.publish(("load",), payload)
        while pub.sent < n:
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - start
        await pub.stop()
        return n / elapsed

    return asyncio.run(run())


def paho_alone(port: int, pki: Pki | None, n: int, payload: bytes) -> float:
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    if pki:
        client.tls_set(ca_certs=str(pki.ca), certfile=str(pki.client_cert), keyfile=str(pki.client_key))
    done = threading.Event()
    acked = [0]

    def on_publish(*_: Any) -> None:
        acked[0] += 1
        if acked[0] == n:
            done.set()

    client.on_publish = on_publish
    client.connect("127.0.0.1", port)
    client.loop_start()
    start = time.perf_counter()
    for _ in range(n):
        client.publish("bench/paho", payload, qos=1)  # paho queues past its 20 in flight
    done.wait(120)
    elapsed = time.perf_counter() - start
    client.loop_stop()
    client.disconnect()
    return n / elapsed


def restart_gap(tmp: Path) -> float:
    """Seconds from the broker coming back to the first queued message acknowledged."""
    broker = Mosquitto(tmp / "restart")
    cfg = MqttConfig(host="127.0.0.1", port=broker.port, topic_prefix="bench")

    async def run() -> float:
        pub = MqttPublisher(cfg, environ={})
        pub.start()
        while not pub.connected:
            await asyncio.sleep(0.01)
        await asyncio.to_thread(broker.proc.terminate)
        await asyncio.to_thread(broker.proc.wait, 10)
        while pub.connected:
            await asyncio.sleep(0.01)
        pub.publish(("queued",), b"x")
        await asyncio.sleep(2.0)
        await asyncio.to_thread(broker._start)
        back = time.perf_counter()
        while pub.sent < 1:
            await asyncio.sleep(0.01)
        gap = time.perf_counter() - back
        await pub.stop()
        return gap

    try:
        return asyncio.run(run())
    finally:
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--size", type=int, default=2000, help="payload bytes (an event JSON is ~1-3 kB)")
    args = parser.parse_args()
    payload = b"x" * args.size
    out: dict[str, Any] = {"messages": args.messages, "payload_bytes": args.size}
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        (tmp / "plain").mkdir()
        (tmp / "tls").mkdir()
        (tmp / "restart").mkdir()
        pki = make_pki(tmp / "pki")
        plain, tls = Mosquitto(tmp / "plain"), Mosquitto(tmp / "tls", pki=pki)
        try:
            for name, port, keys in (("plain", plain.port, None), ("tls", tls.port, pki)):
                out[f"{name}_msgs_per_s"] = {
                    "yolo_edge_publisher": round(ours(port, keys, args.messages, payload)),
                    "paho_alone_20_in_flight": round(paho_alone(port, keys, args.messages, payload)),
                }
        finally:
            plain.stop()
            tls.stop()
        out["restart_to_first_delivery_s_after_2s_down"] = round(restart_gap(tmp), 2)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
