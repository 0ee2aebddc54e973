"""The ``yolo-edge`` command: ``serve`` runs the daemon; ``keygen``, ``snapshot`` and ``push`` (a model
bundle onto one or more boxes) help around it."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Callable

from aiohttp import web

from edge.cameras.snapshot_command import add_snapshot_parser, run_snapshot
from edge.config.settings import Config, load_config
from edge.errors import EdgeError
from edge.http.access_log import AccessLogger, OneLineBadHttp
from edge.http.app import create_app
from edge.http.app_keys import STATE
from edge.http.connections import GuardedRunner, effective_limit, quiet_accept_errors
from edge.http.model_push import KEY_ENV, push, read_admin_key
from edge.http.tls import server_tls
from edge.service.keygen import ensure_key_file
from edge.service.lifecycle import ServiceLifecycle

logger = logging.getLogger("edge")


def setup_logging(verbose: bool = False) -> None:
    # journald stamps each line itself; elsewhere a time helps.
    fmt = "%(levelname)s %(name)s: %(message)s" if os.environ.get("JOURNAL_STREAM") else \
        "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=fmt, stream=sys.stderr)


def config_from_args(args: argparse.Namespace) -> Config:
    overrides: dict[str, dict[str, object]] = {"server": {}, "models": {}}
    if args.host:
        overrides["server"]["host"] = args.host
    if args.port:
        overrides["server"]["port"] = args.port
    if args.models:
        overrides["models"]["dir"] = str(Path(args.models).resolve())
    return load_config(args.config, overrides)


async def serve(config: Config, read_config: Callable[[], Config] | None = None) -> None:
    """Run until SIGTERM/SIGINT; SIGHUP reloads from ``read_config`` (see ``edge.service.lifecycle``)."""
    tls = server_tls(config)  # a bad certificate fails the start before any model compiles
    app = create_app(config)
    state = app[STATE]
    life = ServiceLifecycle(state, read_config, after_reload=tls.reload if tls else None)
    logging.getLogger("aiohttp.server").addFilter(OneLineBadHttp())  # no tracebacks for malformed HTTP
    loop = asyncio.get_running_loop()
    quiet_accept_errors(loop)  # one line a minute, not a traceback per failed accept()
    # aiohttp takes a drain time of 0 for "wait as long as it takes": 0 here means do not wait
    runner = GuardedRunner(app, handle_signals=False, shutdown_timeout=max(config.server.drain_timeout_s, 1e-3),
                           access_log_class=AccessLogger,  # one line per request, no query, no keys
                           # at most this many connections; the longest-idle one makes room
                           max_connections=effective_limit(config.server.max_connections),
                           # headers not complete (or a keep-alive connection idle) this long: closed
                           keepalive_timeout=config.server.idle_timeout_s)
    async with life.starting():  # EXTEND_TIMEOUT_USEC while compiling; STATUS on failure
        await runner.setup()  # compiles and warms every model
        site = web.TCPSite(runner, config.server.host, config.server.port,
                           ssl_context=tls.context if tls else None)
        await site.start()
    url = f"{'https' if tls else 'http'}://{config.server.host}:{config.server.port}"
    logger.info("listening on %s, serving %s (pid %d: kill -HUP %d reloads models and keys)", url,
                ", ".join(state.serving.models.models), os.getpid(), os.getpid())
    life.serving(url)  # READY=1, watchdog, SIGHUP
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    logger.info("stopping: finishing requests in flight (at most %.0f s)", config.server.drain_timeout_s)
    life.stopping()  # STOPPING=1, /readyz 503
    await runner.cleanup()
    await life.close()


def run_push(args: argparse.Namespace) -> int:
    """Print one line per box; exit 0 only when every box serves the model."""
    results = push(args.bundle, args.urls, read_admin_key(args.key_file), args.model_id)
    for result in results:
        print(result.line())
    return 0 if all(r.ok for r in results) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="yolo-edge", description="Serve YOLO models from OpenVINO on this device.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="run the inference daemon")
    p_serve.add_argument("--config", default="config.yaml", help="config file (default: config.yaml)")
    p_serve.add_argument("--host", help="listen address (overrides server.host)")
    p_serve.add_argument("--port", type=int, help="listen port (overrides server.port)")
    p_serve.add_argument("--models", help="model repository folder (overrides models.dir)")
    p_serve.add_argument("-v", "--verbose", action="store_true")
    p_key = sub.add_parser("keygen", help="create an API key file if it does not exist and print the new key once")
    p_key.add_argument("--file", required=True, help="the key file (one key per line)")
    add_snapshot_parser(sub)
    p_push = sub.add_parser("push", help="upload a model bundle to one or more boxes (PUT /v1/models/MODEL_ID)")
    p_push.add_argument("bundle", metavar="BUNDLE_DIR", type=Path,
                        help="an Ultralytics OpenVINO export folder or a yolo-edge-convert bundle")
    p_push.add_argument("--to", dest="urls", action="append", required=True, metavar="URL",
                        help="a box, e.g. http://box:8080 (repeat for several)")
    p_push.add_argument("--id", dest="model_id", metavar="MODEL_ID", help="serve it as this id (default: the folder name)")
    p_push.add_argument("--key-file", type=Path, metavar="PATH",
                        help=f"a file holding the admin key (default: ${KEY_ENV})")
    args = parser.parse_args(argv)
    setup_logging(getattr(args, "verbose", False))
    try:
        if args.command == "serve":
            asyncio.run(serve(config_from_args(args), lambda: config_from_args(args)))
        elif args.command == "snapshot":
            return run_snapshot(args)
        elif args.command == "push":
            return run_push(args)
        elif args.command == "keygen":
            key = ensure_key_file(Path(args.file))
            if key:
                print(f"New API key (stored in {args.file}): {key}")
            else:
                print(f"API key: the one in {args.file} (cat {args.file}; add a line for another key)")
    except EdgeError as exc:
        logger.error("%s", exc)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
