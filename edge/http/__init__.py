"""HTTP: the app factory, middleware, one module per dialect's routes."""
