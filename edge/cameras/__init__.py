"""Cameras: sources, the inference loop, events, snapshots, publishing."""
