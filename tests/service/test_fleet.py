"""Two real daemons behind Debian's nginx running ``packaging/nginx/yolo-edge-fleet.conf``, all on loopback.

The model reaches the fleet the way docs/fleet.md says: ``push`` to each box directly (the balancer
refuses model changes). Through nginx: keys pass, the body limit is the daemons' to the byte, per-box
routes are refused, answers equal a box's own. Under predict load one box is stopped with SIGTERM (no
request may fail), restarted, then the other is killed with SIGKILL (only requests in flight at the kill
may fail; every later one is answered)."""

from __future__ import annotations

import json
import re
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from edge.config.settings import ServerConfig
from edge.http.model_push import push
from tests.support.bundles import ADMIN_KEY
from tests.support.daemon import API_KEY, REPO, Daemon, free_port, link_models, start_daemon
from tests.support.figures import FIGURES_DIR
from tests.support.nginx import FLEET_CONF, Nginx, nginx_binary
from tests.support.predict_load import Outcome, PredictLoad, multipart, tally

pytestmark = [pytest.mark.shared_data]
BUS = (REPO / "assets" / "bus.jpg").read_bytes()
MODEL_ID = "fleet"  # pushed to every box by the fixture
KEY = {"x-api-key": API_KEY}


@dataclass
class Fleet:
    boxes: list[Daemon]
    nginx: Nginx

    def restart(self, i: int) -> Daemon:
        old = self.boxes[i]
        self.boxes[i] = Daemon(old.config_path, old.port, old.log_path)
        return self.boxes[i]


def start_box(tmp: Path, bundle: Path) -> Daemon:
    """A box serving ``bundle`` as MODEL_ID (a daemon needs one model to start); the fixture replaces it
    by a push, and a restarted box compiles that one model only."""
    (tmp / "admin_keys").write_text(ADMIN_KEY + "\n")
    return start_daemon(tmp, link_models(tmp, {MODEL_ID: bundle}),
                        extra={"auth": {"admin_keys_file": str(tmp / "admin_keys")}})


@pytest.fixture(scope="module")
def fleet(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    nginx_binary()  # skips with a reason when nginx is absent
    bundle = shared_data / "models" / "yolov8n_int8_openvino_model"
    if not (bundle / "metadata.yaml").is_file():
        pytest.skip(f"no model at {bundle}")
    boxes = [start_box(tmp_path_factory.mktemp(f"box{i}"), bundle) for i in range(2)]
    proxy = None
    try:
        # One bundle to every box, each box directly: what docs/fleet.md tells users to do.
        results = push(bundle, [b.base_url for b in boxes], ADMIN_KEY, MODEL_ID)
        assert [r.answer and r.answer["action"] for r in results] == ["replaced", "replaced"], \
            [r.line() for r in results]
        proxy = Nginx(tmp_path_factory.mktemp("nginx"), [f"127.0.0.1:{b.port}" for b in boxes])
        yield Fleet(boxes, proxy)
    finally:
        if proxy is not None:
            proxy.stop()
        for box in boxes:
            box.stop()


def predict(base_url: str, headers: dict[str, str] | None = None, model_id: str = MODEL_ID) -> requests.Response:
    body, content_type = multipart(BUS)
    return requests.post(f"{base_url}/v1/predict/{model_id}", data=body, timeout=60,
                         headers={"Content-Type": content_type, **(KEY if headers is None else headers)})


def record_figure(name: str, figures: dict[str, object]) -> None:
    FIGURES_DIR.mkdir(parents=True, exist_ok=True)
    (FIGURES_DIR / f"{name}.json").write_text(json.dumps(figures))
    print(name, figures)


# --- the config against the daemon's own numbers ----------------------------------------------------

def directive(name: str, text: str | None = None) -> str:
    found = re.findall(rf"^\s*{name}\s+([^;]+);", text or FLEET_CONF.read_text(), re.MULTILINE)
    assert len(found) == 1, (name, found)
    return found[0]


def test_the_config_carries_the_daemon_defaults() -> None:
    """A daemon default changed without the balancer (or the reverse) fails here."""
    server = ServerConfig()
    text = FLEET_CONF.read_text()
    upstream = text[text.index("upstream yolo_edge {"):text.index("}", text.index("upstream yolo_edge {"))]
    assert directive("client_max_body_size") == f"{server.max_body_mb:g}m"
    assert directive("client_body_timeout") == f"{server.body_timeout_s:g}s"
    assert directive("client_header_timeout") == f"{server.idle_timeout_s:g}s"
    assert float(directive("keepalive_timeout", upstream).rstrip("s")) < server.idle_timeout_s
    assert {int(n) for n in re.findall(r"max_conns=(\d+)", upstream)} == {server.max_pending}
    assert "least_conn;" in upstream
    predict_location = text[text.index("location ~ ^/(v1/predict/"):]
    assert directive("proxy_next_upstream", predict_location[:predict_location.index("}")]) == \
        "error timeout http_503 non_idempotent"


# --- through the balancer ---------------------------------------------------------------------------

def test_predictions_through_nginx_equal_each_box(fleet: Fleet) -> None:
    direct = [predict(b.base_url) for b in fleet.boxes]
    balanced = [predict(fleet.nginx.base_url) for _ in range(4)]
    assert all(r.status_code == 200 for r in direct + balanced), [r.text[:200] for r in direct + balanced]
    assert direct[0].json()["data"] == direct[1].json()["data"] != []
    assert all(r.json()["data"] == direct[0].json()["data"] for r in balanced)
    boxes_used = {line.split("upstream=[")[1].split("]")[0] for line in fleet.nginx.access_lines()
                  if f"/v1/predict/{MODEL_ID}" in line}
    assert boxes_used == {f"127.0.0.1:{b.port}" for b in fleet.boxes}  # least_conn spreads sequential calls too


@pytest.mark.parametrize("method, path, headers, status, says", [
    # the key travels to the box untouched; the box decides
    ("POST", "/v1/predict/fleet", {}, 401, "missing API key"),
    ("POST", "/v1/predict/fleet", {"x-api-key": "wrong"}, 401, "not valid for this device"),
    ("POST", "/api/models/o/p/fleet/predict", {"Authorization": f"Bearer {API_KEY}"}, 200, '"name": "bus"'),
    ("POST", "/api/models/o/p/fleet/predict", {"Authorization": "Bearer wrong"}, 401, "not valid"),
    ("GET", "/v1/models/fleet", KEY, 200, '"id": "fleet"'),
    ("GET", "/readyz", KEY, 200, '"ready": true'),
    # model changes go to each box, never through the balancer
    ("PUT", "/v1/models/fleet", {"x-api-key": ADMIN_KEY, "Content-Type": "application/gzip"}, 405, "yolo-edge push"),
    ("DELETE", "/v1/models/fleet", {"x-api-key": ADMIN_KEY}, 405, "upload or delete on every box directly"),
    # what belongs to one box
    ("GET", "/metrics", {}, 404, "not served through the balancer"),
    ("GET", "/v1/cameras", KEY, 404, "not served through the balancer"),
    ("GET", "/", {}, 404, "not served through the balancer"),
])
def test_routes_through_nginx(fleet: Fleet, method: str, path: str, headers: dict[str, str], status: int,
                              says: str) -> None:
    field = "file" if path.startswith("/api/") else "image"  # the Platform's field name, HUB's
    body, content_type = multipart(BUS, field) if method == "POST" else (b"x" if method == "PUT" else None, "")
    if method == "POST":
        headers = {"Content-Type": content_type, **headers}
    r = requests.request(method, fleet.nginx.base_url + path, data=body, headers=headers, timeout=60)
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    assert r.status_code == status and says in json.dumps(r.json()), (r.status_code, r.text[:300])
    assert requests.get(f"{fleet.boxes[0].base_url}/v1/models/fleet", headers=KEY, timeout=10).status_code == 200


def test_deepstack_client_through_nginx(fleet: Fleet) -> None:
    """The real DeepStack client from PyPI, its key in the form field, gets the box's own answer."""
    deepstack = pytest.importorskip("deepstack.core", reason="pip install deepstack-python (the test extra)")
    through = deepstack.DeepstackObject(ip="127.0.0.1", port=fleet.nginx.port, api_key=API_KEY).detect(BUS)
    direct = deepstack.DeepstackObject(ip="127.0.0.1", port=fleet.boxes[0].port, api_key=API_KEY).detect(BUS)
    assert through == direct and through


@pytest.mark.parametrize("extra, through_nginx, box_direct", [
    (0, "not 413", "not 413"),  # exactly server.max_body_mb: both let it in (then it is no form: 400)
    (1, 413, 413),              # one byte more: both refuse it
])
def test_body_limit_is_the_daemons_to_the_byte(fleet: Fleet, extra: int, through_nginx: object,
                                               box_direct: object) -> None:
    size = int(ServerConfig().max_body_mb * 1024 * 1024) + extra
    head = b"--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x.jpg\"\r\n\r\n"
    body = head + b"\0" * (size - len(head))
    headers = {**KEY, "Content-Type": "multipart/form-data; boundary=b"}
    for base, expected in ((fleet.nginx.base_url, through_nginx), (fleet.boxes[0].base_url, box_direct)):
        r = requests.post(f"{base}/v1/predict/{MODEL_ID}", data=body, headers=headers, timeout=60)
        if expected == 413:
            assert r.status_code == 413 and "max_body_mb" in r.json()["message"], (base, r.text[:300])
        else:
            assert r.status_code != 413 and r.status_code < 500, (base, r.status_code, r.text[:300])


def no_box_answer(r: requests.Response) -> bool:
    return (r.status_code == 503 and r.headers.get("Retry-After") == "1"
            and "no box can take the request now" in r.json()["message"])


def test_no_box_up_is_a_503_with_retry_after(tmp_path: Path) -> None:
    """Every box down: nginx tries each (connection refused), then answers like a busy box would."""
    proxy = Nginx(tmp_path / "nginx", [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"])
    try:
        r = predict(proxy.base_url)
        again = predict(proxy.base_url)  # both now marked failed: no box is even tried
    finally:
        proxy.stop()
    assert no_box_answer(r) and no_box_answer(again), (r.status_code, r.headers, r.text)
    assert proxy.error_log().count("connect() failed (111: Connection refused)") == 2
    assert "no live upstreams" in proxy.error_log()


def test_max_conns_turns_the_excess_into_503(fleet: Fleet, tmp_path: Path) -> None:
    """max_conns caps the requests nginx has on a box at once (here 1, to see it with 4 clients)."""
    template = FLEET_CONF.read_text().replace("max_conns=16", "max_conns=1")
    proxy = Nginx(tmp_path / "nginx", [f"127.0.0.1:{fleet.boxes[0].port}"], template=template)
    try:
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: predict(proxy.base_url), range(4)))
    finally:
        proxy.stop()
    assert any(r.status_code == 200 for r in answers), [r.status_code for r in answers]
    assert any(no_box_answer(r) for r in answers), [(r.status_code, r.text[:100]) for r in answers]
    assert all(r.status_code == 200 or no_box_answer(r) for r in answers)


# --- a box stops, then a box dies -------------------------------------------------------------------

def answered_by(fleet: Fleet, port: int, after_line: int) -> int:
    return sum(1 for line in fleet.nginx.access_lines()[after_line:]
               if f"/v1/predict/{MODEL_ID}" in line and line.rstrip().endswith(f"upstream=[127.0.0.1:{port}] status=[200]"))


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.05)


def retried(lines: list[str]) -> int:
    """Requests nginx sent to a second box after the first did not answer (upstream status '502, 200')."""
    return sum(1 for line in lines if f"/v1/predict/{MODEL_ID}" in line and "status=[" in line
               and "," in line.split("status=[")[1])


def test_sigterm_then_sigkill_under_load(fleet: Fleet) -> None:
    clients = 6
    term_box, kill_box = fleet.boxes[0], fleet.boxes[1]
    log_start = len(fleet.nginx.access_lines())
    load = PredictLoad(fleet.nginx.base_url, MODEL_ID, API_KEY, BUS, clients=clients, max_seconds=150).start()
    try:
        wait_until(lambda: answered_by(fleet, term_box.port, log_start) >= 20
                   and answered_by(fleet, kill_box.port, log_start) >= 20, 60, "both boxes answering")
        # 1. graceful: SIGTERM, the box drains and exits 0; nginx sends everything else to the other box
        t_term = time.monotonic()
        term_box.process.send_signal(signal.SIGTERM)
        term_rc = term_box.process.wait(30)
        t_exited = time.monotonic()
        drain_log = term_box.log().rsplit("stopping: finishing requests in flight", 1)[-1]
        finished_while_draining = drain_log.count(f'"POST /v1/predict/{MODEL_ID}" 200')
        time.sleep(1.0)
        graceful_lines = len(fleet.nginx.access_lines())
        # 2. the stopped box comes back on its port; nginx tries it again after fail_timeout (5 s)
        back = fleet.restart(0)
        wait_until(lambda: answered_by(fleet, back.port, graceful_lines) >= 10, 60, "the restarted box answering")
        # 3. SIGKILL with requests in flight on the killed box
        kill_line, kill_error_at = len(fleet.nginx.access_lines()), len(fleet.nginx.error_log())
        t_kill = time.monotonic()
        kill_box.process.send_signal(signal.SIGKILL)
        kill_box.process.wait(10)
        time.sleep(3.0)
    finally:
        outcomes = load.stop()
    lines = fleet.nginx.access_lines()[log_start:]
    # requests the killed box had taken and never answered (nginx: "upstream prematurely closed connection
    # while reading response header", or a reset while reading it)
    lost_by_box = [line for line in fleet.nginx.error_log()[kill_error_at:].splitlines()
                   if "[error]" in line and "while reading response header from upstream" in line]

    graceful = [o for o in outcomes if o.start < t_kill and o.end < t_kill]
    in_flight_term = [o for o in outcomes if o.start < t_term < o.end]
    in_flight_kill = [o for o in outcomes if o.start < t_kill < o.end]
    after_kill = [o for o in outcomes if o.start >= t_kill]
    figures = {
        "clients": clients,
        "sigterm": {**tally(graceful), "in_flight_at_sigterm": len(in_flight_term),
                    "finished_by_the_box_while_draining": finished_while_draining, "exit_code": term_rc,
                    "exit_after_s": round(t_exited - t_term, 2),
                    "resent_by_nginx": retried(lines[:graceful_lines - log_start])},
        "sigkill": {**tally(in_flight_kill + after_kill), "in_flight_at_sigkill": len(in_flight_kill),
                    "failed_in_flight": sum(not o.ok for o in in_flight_kill),
                    "sent_after_sigkill": len(after_kill), "taken_down_by_the_killed_box": len(lost_by_box),
                    "resent_by_nginx": retried(lines[kill_line - log_start:])},
        "total": tally(outcomes),
    }
    record_figure("fleet_failover", figures)
    assert term_rc == 0, term_box.tail()
    assert finished_while_draining >= 1 and len(graceful) > 50  # the stop found work in progress on that box
    assert all(o.ok for o in graceful), (tally(graceful), failures(graceful), fleet.nginx.error_log()[-3000:])
    # SIGKILL. One sent after the kill is never lost: nginx's next try finds the box that is left. Only one in
    # flight at the kill could be, and only if the box had begun its answer (nginx cannot resend once it
    # relays bytes; a JSON answer leaves in one write). Every other request the killed box took down with
    # it, nginx resends because predictions carry non_idempotent: so none is lost (without it, each of
    # `lost_by_box` would be a 502).
    assert len(after_kill) > 10
    assert all(o.ok for o in after_kill), (tally(after_kill), failures(after_kill))
    assert len(lost_by_box) >= 1, "the kill found no request in flight on the killed box"
    assert all(o.ok for o in in_flight_kill), (tally(in_flight_kill), failures(in_flight_kill))


def failures(outcomes: list[Outcome]) -> list[tuple[int | str, bytes]]:
    return [(o.status, o.body[:200]) for o in outcomes if not o.ok][:5]
