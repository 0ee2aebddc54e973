"""The two plane tests counting needs, with the boundary rules of shapely (which Ultralytics' solutions
use): a segment ``intersects`` a line when they share any point, touching included; a zone
``contains`` a point strictly inside it, its boundary excluded. Points are (x, y) pixels."""

from __future__ import annotations

import cv2
import numpy as np

Point = tuple[float, float]


def _orient(a: Point, b: Point, c: Point) -> float:
    """> 0: c left of a->b; < 0: right; 0: collinear."""
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _on_segment(a: Point, b: Point, c: Point) -> bool:
    """``c`` (collinear with a-b) lies within a-b's bounding box."""
    return min(a[0], b[0]) <= c[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= c[1] <= max(a[1], b[1])


def segments_intersect(p1: Point, p2: Point, q1: Point, q2: Point) -> bool:
    """Segments p1-p2 and q1-q2 share at least one point (a zero-length segment is a point)."""
    d1, d2 = _orient(q1, q2, p1), _orient(q1, q2, p2)
    d3, d4 = _orient(p1, p2, q1), _orient(p1, p2, q2)
    if ((d1 > 0 and d2 < 0) or (d1 < 0 and d2 > 0)) and ((d3 > 0 and d4 < 0) or (d3 < 0 and d4 > 0)):
        return True
    return ((d1 == 0 and _on_segment(q1, q2, p1)) or (d2 == 0 and _on_segment(q1, q2, p2))
            or (d3 == 0 and _on_segment(p1, p2, q1)) or (d4 == 0 and _on_segment(p1, p2, q2)))


class Polygon:
    """A zone's outline, for repeated strict point-in-polygon tests."""

    def __init__(self, points: list[Point]) -> None:
        self.contour = np.asarray(points, dtype=np.float32).reshape(-1, 1, 2)

    def contains(self, p: Point) -> bool:
        return cv2.pointPolygonTest(self.contour, (float(p[0]), float(p[1])), False) > 0
