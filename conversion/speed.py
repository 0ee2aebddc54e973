"""Speed of OpenVINO models on one device, measured side by side in one run.

Latency: batch 1, one request at a time, ``PERFORMANCE_HINT=LATENCY``; the median in ms.
Throughput: ``PERFORMANCE_HINT=THROUGHPUT`` with the plugin's optimal number of requests kept busy;
images per second. The models take turns in several short rounds, so load from other processes
on the machine hits all of them alike.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from conversion.progress import Progress, track
from edge.inference.compile_options import compile_properties  # what the daemon compiles with


@dataclass(frozen=True)
class Speed:
    """Median batch-1 latency (ms), its 90th percentile, throughput (images/s) and requests used."""

    latency_ms: float
    latency_p90_ms: float
    throughput_fps: float
    requests: int


def _latency(compiled: Any, tensor: np.ndarray, seconds: float) -> list[float]:
    request = compiled.create_infer_request()
    request.infer({0: tensor})  # warm-up
    times: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(times) < 3:
        t0 = time.perf_counter()
        request.infer({0: tensor})
        times.append((time.perf_counter() - t0) * 1000.0)
    return times


def _throughput(compiled: Any, tensor: np.ndarray, seconds: float) -> tuple[int, float, int]:
    n = max(1, int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
    requests = [compiled.create_infer_request() for _ in range(n)]
    for r in requests:
        r.set_input_tensor(0, _ov_tensor(tensor))
        r.infer()  # warm-up, also fixes the input
    done = 0
    t0 = time.perf_counter()
    end = t0 + seconds
    for r in requests:
        r.start_async()
    while time.perf_counter() < end:
        for r in requests:
            r.wait()
            done += 1
            r.start_async()
    for r in requests:
        r.wait()
        done += 1
    return done, time.perf_counter() - t0, n


def _ov_tensor(array: np.ndarray) -> Any:
    import openvino as ov

    return ov.Tensor(np.ascontiguousarray(array))


def benchmark(models: dict[str, Any], device: str, tensor: np.ndarray, seconds: float = 12.0, rounds: int = 3,
              progress: Progress | None = None, core: Any = None) -> dict[str, Speed]:
    """Measure each ``ov.Model`` in ``models`` on ``device`` with input ``tensor`` (1, 3, h, w).

    ``seconds`` is the budget per model per mode, split over ``rounds`` alternating rounds.
    """
    import openvino as ov

    core = core or ov.Core()
    latency = {k: core.compile_model(m, device, compile_properties(device, "LATENCY")) for k, m in models.items()}
    through = {k: core.compile_model(m, device, compile_properties(device, "THROUGHPUT")) for k, m in models.items()}
    samples: dict[str, list[float]] = {k: [] for k in models}
    frames = {k: 0 for k in models}
    elapsed = {k: 0.0 for k in models}
    nreq = {k: 1 for k in models}
    share = seconds / rounds / 2
    turns = [k for _ in range(rounds) for k in models]  # the models take turns, round after round
    for k in track(turns, progress, "benchmark"):
        samples[k] += _latency(latency[k], tensor, share)
        n, t, nreq[k] = _throughput(through[k], tensor, share)
        frames[k] += n
        elapsed[k] += t
    return {
        k: Speed(
            latency_ms=float(np.median(samples[k])),
            latency_p90_ms=float(np.percentile(samples[k], 90)),
            throughput_fps=frames[k] / elapsed[k],
            requests=nreq[k],
        )
        for k in models
    }
