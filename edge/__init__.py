"""yolo-edge: the Ultralytics HUB predict API served from OpenVINO models on the device.

Nothing under ``edge`` may import torch or ultralytics: the device has neither.
"""

__version__ = "0.1.0"
