"""Which OpenVINO devices are visible, and the message when a configured one is not (edge/inference/devices.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.errors import DeviceError
from edge.inference.devices import DeviceNode, device_nodes, visible_devices, why_not_visible
from edge.inference.engine import Engine

RENDER = DeviceNode(Path("/dev/dri/renderD128"), gid=109, usable=True)
RENDER_LOCKED = DeviceNode(Path("/dev/dri/renderD128"), gid=109, usable=False)
ACCEL_LOCKED = DeviceNode(Path("/dev/accel/accel0"), gid=992, usable=False)
CPU_ONLY = {"CPU": "Intel(R) Core(TM) Ultra 7 155H"}


@pytest.mark.parametrize("device, nodes, container, expected, absent", [
    # a container started without the device: name the flag and the compose key
    ("GPU", [], True, ["not visible", "visible: CPU", "--device /dev/dri", "devices: [/dev/dri]"], ["intel_vpu"]),
    ("NPU", [], True, ["--device /dev/accel", "devices: [/dev/accel]"], ["/dev/dri"]),
    ("GPU.1", [], True, ["'GPU.1'", "--device /dev/dri"], []),
    # on the host without a node: the kernel driver
    ("GPU", [], False, ["no /dev/dri node", "i915 or xe"], ["--device"]),
    ("NPU", [], False, ["no /dev/accel node", "intel_vpu"], ["--device"]),
    # the node is there but this process may not open it: the group id, numeric, for --group-add
    ("GPU", [RENDER_LOCKED], True, ["renderD128 (group 109)", "--group-add 109", "group_add: ['109']",
                                    "getent group render"], ["compute runtime"]),
    ("NPU", [ACCEL_LOCKED], True, ["accel0 (group 992)", "--group-add 992"], []),
    ("GPU", [RENDER_LOCKED], False, ["group 109", "'render'"], ["--group-add"]),
    # the node opens, yet the plugin finds nothing: the user-space driver is missing or too old
    ("GPU", [RENDER], True, ["renderD128 can be opened", "intel-opencl-icd", "compute-runtime"], ["--group-add"]),
    ("NPU", [DeviceNode(Path("/dev/accel/accel0"), 992, True)], False, ["intel-level-zero-npu"], []),
    # nothing to say about the CPU beyond what is visible
    ("CPU", [], True, ["'CPU' is not visible"], ["/dev/"]),
])
def test_why_not_visible(device: str, nodes: list[DeviceNode], container: bool, expected: list[str],
                         absent: list[str]) -> None:
    message = why_not_visible(device, CPU_ONLY, nodes, groups={10001}, container=container)
    for text in expected:
        assert text in message, message
    for text in absent:
        assert text not in message, message


class FakeCore:
    """The two properties ``visible_devices`` asks of an openvino.Core; records which plugins it asked."""

    def __init__(self, devices: dict[str, list[str]]) -> None:
        self.devices = devices
        self.asked: list[str] = []

    def get_property(self, name: str, key: str) -> object:
        plugin = name.split(".")[0]
        self.asked.append(plugin)
        if plugin not in self.devices:
            raise RuntimeError(f"Cannot load library for {plugin}")
        if key == "AVAILABLE_DEVICES":
            return self.devices[plugin]
        return f"{name} full name"


def make_nodes(dev: Path, *relative: str) -> None:
    for rel in relative:
        (dev / rel).parent.mkdir(parents=True, exist_ok=True)
        (dev / rel).touch()


def test_visible_devices_asks_only_plugins_whose_nodes_exist(tmp_path: Path) -> None:
    core = FakeCore({"CPU": [""], "GPU": ["0"], "NPU": [""]})
    assert visible_devices(core, tmp_path) == {"CPU": "CPU full name"}
    assert set(core.asked) == {"CPU"}  # no GPU/NPU plugin loaded on a box without their nodes
    make_nodes(tmp_path, "dri/renderD128", "dri/card0", "accel/accel0")
    assert visible_devices(core, tmp_path) == {"CPU": "CPU full name", "GPU": "GPU full name",
                                               "NPU": "NPU full name"}


def test_visible_devices_names_each_of_several_gpus(tmp_path: Path) -> None:
    make_nodes(tmp_path, "dri/renderD128", "dri/renderD129")
    core = FakeCore({"CPU": [""], "GPU": ["0", "1"]})
    assert list(visible_devices(core, tmp_path)) == ["CPU", "GPU.0", "GPU.1"]


def test_visible_devices_skips_a_plugin_that_cannot_load(tmp_path: Path) -> None:
    make_nodes(tmp_path, "dri/renderD128")  # a node, but no compute runtime: the plugin fails to load
    assert visible_devices(FakeCore({"CPU": [""]}), tmp_path) == {"CPU": "CPU full name"}


def test_device_nodes_lists_render_and_accel_nodes_only(tmp_path: Path) -> None:
    make_nodes(tmp_path, "dri/renderD128", "dri/card0", "accel/accel0")
    assert [n.path.name for n in device_nodes("GPU", tmp_path)] == ["renderD128"]
    assert [n.path.name for n in device_nodes("NPU", tmp_path)] == ["accel0"]
    assert device_nodes("CPU", tmp_path) == []
    assert all(n.usable and n.gid == tmp_path.stat().st_gid for n in device_nodes("GPU", tmp_path))


@pytest.mark.parametrize("device, node", [("GPU", "/dev/dri"), ("NPU", "/dev/accel")])
def test_engine_refuses_a_device_it_cannot_see(device: str, node: str) -> None:
    """Real OpenVINO on this machine: a configured GPU/NPU with no node fails at start, naming the node."""
    if Path(node).exists():
        pytest.skip(f"{node} exists on this machine: the {device} may well be visible")
    with pytest.raises(DeviceError, match=f"{device}.*not visible.*visible: CPU.*{node}"):
        Engine(device, cache_dir=None)


def test_engine_records_the_visible_devices() -> None:
    assert "CPU" in Engine("CPU", cache_dir=None).visible
