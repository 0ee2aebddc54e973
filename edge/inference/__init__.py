"""Inference: OpenVINO engine, models on disk, pre- and post-processing."""
