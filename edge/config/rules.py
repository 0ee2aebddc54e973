"""How a config field declares its check: shared by every config dataclass (``edge.config.settings`` reads it)."""

from __future__ import annotations

from dataclasses import field
from typing import Any, Callable


def rule(default: Any, check: Callable[[Any], bool] | None = None, expect: str = "") -> Any:
    """A dataclass field with a default, a predicate ``check`` and ``expect``, the words a person
    reads when the value fails the check ("a port number 1-65535")."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"check": check, "expect": expect})
    return field(default=default, metadata={"check": check, "expect": expect})
