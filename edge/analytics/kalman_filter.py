"""The constant-velocity Kalman filter of ByteTrack, in (x, y, a, h) box space.

A port of Ultralytics' ``ultralytics/trackers/utils/kalman_filter.py`` ``KalmanFilterXYAH`` (AGPL-3.0,
like this project), kept to the operations ByteTrack uses and to the same float64 arithmetic, so a
track moves exactly as it does under ``model.track(..., tracker="bytetrack.yaml")``.

State: (x, y, a, h, vx, vy, va, vh): box centre, aspect ratio w/h, height and their velocities, one
step per frame.
"""

from __future__ import annotations

import numpy as np

STD_POSITION = 1.0 / 20
STD_VELOCITY = 1.0 / 160


class KalmanFilterXYAH:
    def __init__(self) -> None:
        ndim = 4
        self.motion = np.eye(2 * ndim, 2 * ndim)
        for i in range(ndim):
            self.motion[i, ndim + i] = 1.0
        self.observe = np.eye(ndim, 2 * ndim)

    def initiate(self, measurement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A new track from one measurement (x, y, a, h): mean (8,), covariance (8, 8), float64."""
        measurement = np.asarray(measurement, dtype=np.float64)
        mean = np.r_[measurement, np.zeros_like(measurement)]
        h = measurement[3]
        std = [2 * STD_POSITION * h, 2 * STD_POSITION * h, 1e-2, 2 * STD_POSITION * h,
               10 * STD_VELOCITY * h, 10 * STD_VELOCITY * h, 1e-5, 10 * STD_VELOCITY * h]
        return mean, np.diag(np.square(std))

    def multi_predict(self, mean: np.ndarray, covariance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One step ahead for (N, 8) means and (N, 8, 8) covariances."""
        h = mean[:, 3]
        std_pos = [STD_POSITION * h, STD_POSITION * h, 1e-2 * np.ones_like(h), STD_POSITION * h]
        std_vel = [STD_VELOCITY * h, STD_VELOCITY * h, 1e-5 * np.ones_like(h), STD_VELOCITY * h]
        sqr = np.square(np.r_[std_pos, std_vel]).T
        motion_cov = np.zeros((sqr.shape[0], 8, 8))
        motion_cov[:, range(8), range(8)] = sqr
        mean = np.dot(mean, self.motion.T)
        left = np.dot(self.motion, covariance).transpose((1, 0, 2))
        return mean, np.dot(left, self.motion.T) + motion_cov

    def project(self, mean: np.ndarray, covariance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The state distribution in measurement space (4,), (4, 4)."""
        std = [STD_POSITION * mean[3], STD_POSITION * mean[3], 1e-1, STD_POSITION * mean[3]]
        innovation_cov = np.diag(np.square(std))
        return mean[:4].copy(), covariance[:4, :4] + innovation_cov

    def update(self, mean: np.ndarray, covariance: np.ndarray, measurement: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
        """The correction step with one measurement (x, y, a, h)."""
        projected_mean, projected_cov = self.project(mean, covariance)
        gain = np.linalg.solve(projected_cov, covariance[:, :4].T).T
        innovation = measurement - projected_mean
        new_mean = mean + np.dot(innovation, gain.T)
        new_covariance = covariance - np.linalg.multi_dot((gain, projected_cov, gain.T))
        return new_mean, new_covariance
