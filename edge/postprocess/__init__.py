"""Raw model outputs -> ``Prediction``, one module per Ultralytics task."""
