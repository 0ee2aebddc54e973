"""SIGINT and SIGTERM during a conversion: unwind like Ctrl-C so every ``finally`` and temporary folder
cleans up, then exit with the shell's code for that signal (130 SIGINT, 143 SIGTERM).

Shared by ``yolo-edge-convert`` and the default-model preparation of ``make serve``: both write a
staging folder beside the target and a work folder in ``$TMPDIR``, and neither may leave them behind.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

HANDLED = (signal.SIGINT, signal.SIGTERM)


def _interrupt(signum: int, frame: object) -> None:
    """Raise ``KeyboardInterrupt(signum)``; a second signal during the cleanup is ignored rather than
    cutting it short."""
    for sig in HANDLED:
        signal.signal(sig, signal.SIG_IGN)
    raise KeyboardInterrupt(signum)


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Route SIGINT and SIGTERM to ``_interrupt`` inside the block (a signal ignored by whoever started
    us stays ignored); restore the old handlers after."""
    try:
        old = {sig: signal.signal(sig, _interrupt) for sig in HANDLED if signal.getsignal(sig) is not signal.SIG_IGN}
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def signal_of(exc: KeyboardInterrupt) -> signal.Signals:
    """The signal behind ``exc``: the one ``_interrupt`` stored, else SIGINT (a plain Ctrl-C)."""
    signum = exc.args[0] if exc.args and isinstance(exc.args[0], int) else signal.SIGINT
    return signal.Signals(signum)


def exit_code(exc: KeyboardInterrupt) -> int:
    """128 + the signal number, as a shell reports a process ended by that signal."""
    return 128 + signal_of(exc)
