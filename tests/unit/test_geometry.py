"""The plane tests of line and zone counting against shapely, which Ultralytics' solutions use:
``LineString.intersects`` (touching counts) and ``Polygon.contains`` (the boundary does not)."""

from __future__ import annotations

import numpy as np
import pytest

from edge.analytics.geometry import Polygon, segments_intersect

shapely = pytest.importorskip("shapely.geometry")


@pytest.mark.parametrize("p1, p2, q1, q2", [
    ((0, 0), (10, 0), (5, -5), (5, 5)),  # a cross
    ((0, 0), (10, 0), (5, 0), (5, 5)),  # touching at an end
    ((0, 0), (10, 0), (10, 0), (20, 0)),  # collinear, sharing an end
    ((0, 0), (10, 0), (11, 0), (20, 0)),  # collinear, apart
    ((0, 0), (10, 0), (2, 0), (8, 0)),  # collinear, overlapping
    ((3, 3), (3, 3), (0, 0), (6, 6)),  # a still object on the line
    ((3, 4), (3, 4), (0, 0), (6, 6)),  # a still object off it
    ((0, 0), (1, 1), (2, 2), (3, 0)),  # apart
])
def test_segments_intersect_as_shapely(p1, p2, q1, q2) -> None:  # type: ignore[no-untyped-def]
    theirs = shapely.LineString([q1, q2]).intersects(shapely.LineString([p1, p2]) if p1 != p2 else shapely.Point(p1))
    assert segments_intersect(p1, p2, q1, q2) == theirs


def test_random_segments_and_points_as_shapely() -> None:
    rng = np.random.default_rng(17)
    zone_pts = [(100.0, 50.0), (500.0, 80.0), (560.0, 400.0), (300.0, 300.0), (80.0, 420.0)]  # concave
    zone, theirs = Polygon(zone_pts), shapely.Polygon(zone_pts)
    for _ in range(2000):
        a, b, c, d = (tuple(float(v) for v in rng.integers(0, 640, 2)) for _ in range(4))
        assert segments_intersect(a, b, c, d) == shapely.LineString([c, d]).intersects(shapely.LineString([a, b])), \
            (a, b, c, d)
        assert zone.contains(a) == theirs.contains(shapely.Point(a)), a
    for corner in zone_pts:  # the boundary is not inside
        assert not zone.contains(corner) and not theirs.contains(shapely.Point(corner))
