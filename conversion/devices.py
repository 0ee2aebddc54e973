"""--device: check it is present and that the options fit it."""

from __future__ import annotations

from typing import Any

from conversion.errors import DeviceError

DEVICES = ("CPU", "GPU", "NPU", "AUTO")


def check_device(device: str, dynamic: bool, core: Any = None) -> str:
    """Return the OpenVINO device name for ``device`` or raise ``DeviceError`` listing those present.

    NPU compiles static shapes at batch 1 only, so ``dynamic`` is refused there. ``GPU`` also
    matches ``GPU.0``/``GPU.1``.
    """
    import openvino as ov

    device = device.upper()
    if device not in DEVICES:
        raise DeviceError(f"--device {device}: not one of {', '.join(DEVICES)}")
    if dynamic and device == "NPU":
        raise DeviceError("--dynamic cannot be used with --device NPU: the NPU compiles static shapes at batch 1. "
                          "Drop --dynamic (the daemon letterboxes every image to the exported size).")
    present = list((core or ov.Core()).available_devices)
    if device != "AUTO" and not any(d == device or d.startswith(f"{device}.") for d in present):
        raise DeviceError(f"--device {device}: not present on this machine. Devices present: {', '.join(present) or 'none'}. "
                          "Convert on the target machine, or pick one of these.")
    return device


def device_label(device: str, core: Any = None) -> str:
    """``CPU (AMD EPYC ...)``: the device and its full name, for reports."""
    import openvino as ov

    core = core or ov.Core()
    try:
        name = core.get_property(device if device != "AUTO" else "CPU", "FULL_DEVICE_NAME")
    except RuntimeError:
        name = ""
    return f"{device} ({name})" if name else device
