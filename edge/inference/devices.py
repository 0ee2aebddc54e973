"""Which OpenVINO devices this process can see, and why a configured one is not among them.

The two classic traps on an Intel box are a device that is there but invisible (a container started
without ``--device /dev/dri`` or ``/dev/accel``, or a process outside the ``render`` group) and a
user-space driver too old for the chip (openvino#34692, frigate#9295, frigate#23558). OpenVINO itself
only says the device is missing; :func:`why_not_visible` names the likely cause from the device nodes.

Probing asks the GPU and NPU plugins only when their kernel nodes exist: listing every device loads
every plugin (~18 MB of RSS) on a box that has none of them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The kernel's device nodes each OpenVINO plugin needs: i915/xe render nodes, intel_vpu accel nodes.
NODE_GLOBS = {"GPU": ("dri", "renderD*"), "NPU": ("accel", "accel*")}
# What passes a node into a container, per plugin.
DOCKER_DEVICE = {"GPU": "/dev/dri", "NPU": "/dev/accel"}
# The user-space half of each plugin's driver, named for the error message.
RUNTIME = {
    "GPU": "the Intel GPU compute runtime (Debian's intel-opencl-icd; Debian 12's 22.43 knows chips up to "
           "Alder Lake / Raptor Lake: Meteor Lake, Lunar Lake, Arrow Lake and Arc B-series need Intel's "
           "compute-runtime .debs from github.com/intel/compute-runtime/releases)",
    "NPU": "the NPU user-space driver (intel-driver-compiler-npu, intel-fw-npu and intel-level-zero-npu from "
           "github.com/intel/linux-npu-driver/releases, with the level-zero loader of the same release)",
}


@dataclass(frozen=True)
class DeviceNode:
    """One kernel device node: its group and whether this process may open it read-write."""

    path: Path
    gid: int
    usable: bool


def device_nodes(plugin: str, dev: Path = Path("/dev")) -> list[DeviceNode]:
    """The nodes ``plugin`` (GPU or NPU) needs, as present under ``dev``; [] for CPU and AUTO."""
    if plugin not in NODE_GLOBS:
        return []
    folder, pattern = NODE_GLOBS[plugin]
    nodes = []
    for path in sorted((dev / folder).glob(pattern)):
        try:
            gid = path.stat().st_gid
        except OSError:
            continue
        nodes.append(DeviceNode(path, gid, os.access(path, os.R_OK | os.W_OK)))
    return nodes


def visible_devices(core: Any, dev: Path = Path("/dev")) -> dict[str, str]:
    """OpenVINO device name (``CPU``, ``GPU.0``, ``NPU``) -> its full name, for the devices ``core``
    (an ``openvino.Core``) can use. GPU and NPU plugins are asked only when their nodes exist."""
    found: dict[str, str] = {}
    for plugin in ("CPU", "GPU", "NPU"):
        if plugin != "CPU" and not device_nodes(plugin, dev):
            continue
        try:
            ids = [str(i) for i in core.get_property(plugin, "AVAILABLE_DEVICES")]
        except RuntimeError:  # plugin absent, or its driver found nothing
            continue
        for name in [f"{plugin}.{i}" for i in ids] if len(ids) > 1 else [plugin]:
            try:
                found[name] = str(core.get_property(name, "FULL_DEVICE_NAME"))
            except RuntimeError:
                continue
    return found


def in_container() -> bool:
    """Docker writes /.dockerenv; Podman /run/.containerenv."""
    return Path("/.dockerenv").exists() or Path("/run/.containerenv").exists()


def why_not_visible(device: str, visible: dict[str, str], nodes: list[DeviceNode], groups: set[int],
                    container: bool) -> str:
    """A message naming the likely cause of ``device`` (as configured) missing from ``visible``.

    ``nodes``: the plugin's kernel nodes (:func:`device_nodes`); ``groups``: this process's group ids.
    """
    plugin = device.split(":")[0].split(".")[0]
    seen = ", ".join(visible) or "none"
    head = f"models.device {device!r} is not visible to OpenVINO (visible: {seen})"
    if plugin not in NODE_GLOBS:
        return head
    folder = f"/dev/{NODE_GLOBS[plugin][0]}"
    if not nodes:
        if container:
            return (f"{head}: this container has no {folder} node. Pass the device in: docker run --device "
                    f"{DOCKER_DEVICE[plugin]} (compose.yaml: devices: [{DOCKER_DEVICE[plugin]}]), and add the "
                    f"group that owns it on the host (--group-add, see docs/container.md)")
        driver = "i915 or xe" if plugin == "GPU" else "intel_vpu"
        return f"{head}: no {folder} node on this machine; is the kernel driver ({driver}) loaded?"
    blocked = [n for n in nodes if not n.usable]
    if len(blocked) == len(nodes):
        gids = sorted({n.gid for n in blocked})
        where = ", ".join(f"{n.path} (group {n.gid})" for n in blocked)
        add = " ".join(f"--group-add {g}" for g in gids)
        fix = (f"docker run {add} (compose.yaml: group_add: [{', '.join(repr(str(g)) for g in gids)}]; the "
               f"host's numeric id, as `getent group render` prints it: names differ inside the image)"
               if container else "add the service user to that group (usually 'render')")
        return (f"{head}: this process (uid {os.getuid()}, groups {sorted(groups)}) may not open {where}; "
                f"{fix}")
    usable = ", ".join(str(n.path) for n in nodes if n.usable)
    return (f"{head}: {usable} can be opened, yet OpenVINO's {plugin} plugin finds no device there. The likely "
            f"cause is {RUNTIME[plugin]} being missing or too old for this chip")


def process_groups() -> set[int]:
    return {os.getegid(), *os.getgroups()}
