"""Every error the daemon raises on purpose, in one tree.

Lower layers (cv2, OpenVINO, aiohttp) are caught at their boundary and re-raised as one of these.
The web layer maps each class to one HTTP status; nothing below it knows about HTTP.
"""

from __future__ import annotations


class EdgeError(Exception):
    """Root of every yolo-edge error. ``str(error)`` is a message a person can act on."""


class ConfigError(EdgeError):
    """config.yaml or the key file is wrong; the daemon does not start (or a reload is refused)."""


# --- the client's fault -------------------------------------------------------------------------

class BadRequest(EdgeError):
    """An argument is missing, malformed or out of range."""


class BadImage(BadRequest):
    """The image could not be decoded."""


class UnsupportedMediaType(BadRequest):
    """The upload is not an image format we accept."""


class PayloadTooLarge(BadRequest):
    """The body, a field or the image's pixel count exceeds a configured limit."""


class Unauthorized(EdgeError):
    """The API key is missing or wrong."""


class Forbidden(EdgeError):
    """The key is valid but may not do this (a predict key managing models), or the feature is off."""


class BadBundle(BadRequest):
    """An uploaded model archive is unsafe or malformed (paths, links, devices, not an archive)."""


class InvalidModel(BadRequest):
    """An uploaded bundle unpacked safely but holds no model this device can serve."""


class Conflict(EdgeError):
    """The change would leave the device unable to serve or to start (deleting its last model)."""


class ModelNotFound(EdgeError):
    """No model of that id is served."""


class CameraNotFound(EdgeError):
    """No camera of that id is configured."""


class UrlFetchError(BadRequest):
    """An image URL was refused (host not allowed) or could not be fetched."""


# --- ours or the device's -----------------------------------------------------------------------

class ModelError(EdgeError):
    """A model folder is broken or its outputs are not what its task expects."""


class StorageError(EdgeError):
    """models.dir cannot be written (permissions, no space left)."""


class CameraError(EdgeError):
    """A camera source could not be opened, or stopped giving frames."""


class DeviceError(EdgeError):
    """The inference device is absent or failed."""


class Overloaded(EdgeError):
    """Too much work is queued; the client should retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(Overloaded):
    """This API key sent more requests than its configured rate."""


class NotReady(Overloaded):
    """The daemon is starting, reloading or stopping."""


class SlowClient(BadRequest):
    """The client did not send its whole request within the body timeout."""


class ClientGone(BadRequest):
    """The client closed the connection before its whole request arrived (nobody reads the answer)."""
