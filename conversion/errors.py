"""The exception tree of the conversion tool.

Every error a person can act on is a ``ConversionError``; the CLI prints its message and exits with
its ``exit_code``. Lower-layer exceptions (torch, OpenVINO, NNCF, cv2) are mapped where they occur.
"""

from __future__ import annotations


class ConversionError(Exception):
    """Root of the tree. ``exit_code`` is what the CLI returns."""

    exit_code = 1


class SourceError(ConversionError):
    """The SOURCE argument: missing file, not a YOLO checkpoint, unsupported task."""

    exit_code = 2


class DataError(ConversionError):
    """The --data argument: missing, empty, unreadable, or not enough images."""

    exit_code = 3


class OutputExistsError(ConversionError):
    """The --out bundle already exists and --force was not given."""

    exit_code = 4


class DeviceError(ConversionError):
    """The --device is absent, or the options do not fit it (--dynamic on NPU)."""

    exit_code = 5


class AccuracyGateError(ConversionError):
    """The converted model lost more accuracy than --max-drop allows; no bundle was written."""

    exit_code = 6


class UsageError(ConversionError):
    """Options that contradict each other (for example INT8 without --data)."""

    exit_code = 2


class PushError(ConversionError):
    """The bundle was written but at least one --push box did not take it (each box's line says why)."""

    exit_code = 7
