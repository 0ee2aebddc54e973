"""The daemon's service: serving state, admission, lifecycle, reload, keys."""
