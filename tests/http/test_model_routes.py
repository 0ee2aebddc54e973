"""Models over the API against a real ``yolo-edge serve``: upload each task's real INT8 export (tar.gz,
tar and zip), predict with it and compare with the same export served from start, replace a model under
load, delete it; hostile archives each get a 4xx and change nothing; admin keys; SIGHUP after an upload.
The replace-under-load and upload-to-serving figures go to build/figures."""

from __future__ import annotations

import gzip
import hashlib
import json
import signal
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.bundles import ADMIN_KEY, files_of, member, pack, pack_folder, tar_with, zip_with_symlink
from tests.support.daemon import Daemon, link_models, start_daemon
from tests.support.figures import FIGURES_DIR
from tests.support.shared_data import shared_data_dir

pytestmark = [pytest.mark.shared_data]

DATA = shared_data_dir()
EXPORTS = {
    "detect": "yolov8n_int8_openvino_model", "segment": "yolo11n-seg_int8_openvino_model",
    "pose": "yolov8n-pose_int8_openvino_model", "detect11": "yolo11n_int8_openvino_model",
}
MAX_FILE_MB, MAX_TOTAL_MB = 5, 8  # every shared export fits; the hostile bundles below do not


def export(name: str) -> Path:
    if DATA is None or not (DATA / "models" / EXPORTS[name] / "metadata.yaml").is_file():
        pytest.skip(f"no {EXPORTS[name]} in the shared data")
    return DATA / "models" / EXPORTS[name]


def admin(key: str = ADMIN_KEY) -> dict[str, str]:
    return {"x-api-key": key}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """Serves each export from start as ref-<task>, plus 'victim' (yolov8n) that hostile uploads aim at."""
    tmp = tmp_path_factory.mktemp("model-routes")
    (tmp / "admin_keys").write_text(f"# who may manage models\n{ADMIN_KEY}\n")
    models = link_models(tmp, {f"ref-{task}": export(task) for task in EXPORTS} | {"victim": export("detect")})
    d = start_daemon(tmp, models, extra={"auth": {"admin_keys_file": str(tmp / "admin_keys")},
                                         "models": {"upload_max_file_mb": MAX_FILE_MB,
                                                    "upload_max_mb": MAX_TOTAL_MB}})
    yield d
    d.stop()


@pytest.fixture(scope="module")
def image() -> bytes:
    if DATA is None:
        pytest.skip("no shared data")
    return sorted((DATA / "coco8" / "images" / "val").glob("*.jpg"))[0].read_bytes()


def models_dir(d: Daemon) -> Path:
    return d.config_path.parent / "models"


def listing(d: Daemon) -> list[str]:
    """Every entry under models.dir (symlinked model folders not followed)."""
    root = models_dir(d)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def predict(d: Daemon, model_id: str, image: bytes, session: Any = requests) -> requests.Response:
    return session.post(f"{d.base_url}/v1/predict/{model_id}", files={"image": ("im.jpg", image, "image/jpeg")},
                        headers={"x-api-key": d.api_key}, timeout=60)


def put(d: Daemon, model_id: str, body: bytes, content_type: str = "application/gzip",
        key: str = ADMIN_KEY) -> requests.Response:
    return requests.put(f"{d.base_url}/v1/models/{model_id}", data=body, timeout=300,
                        headers={"x-api-key": key, "Content-Type": content_type})


@pytest.mark.parametrize("task, kind, nested, content_type", [
    ("detect", "tar.gz", "", "application/gzip"),                     # files at the top
    ("segment", "zip", "yolo11n-seg_int8_openvino_model", "application/zip"),  # inside one folder
    ("pose", "tar", "bundle", "application/x-tar"),
])
def test_upload_predict_delete(daemon: Daemon, image: bytes, task: str, kind: str, nested: str,
                               content_type: str) -> None:
    model_id = f"up-{task}"
    body = pack_folder(export(task), kind, nested)
    r = put(daemon, model_id, body, content_type)
    assert r.status_code == 200, r.text
    desc = r.json()["data"]
    expected_task = "detect" if task.startswith("detect") else task
    assert (desc["id"], desc["task"], desc["precision"], desc["device"], desc["action"]) == \
        (model_id, expected_task, "int8", "CPU", "added")
    assert desc["sha256"] == hashlib.sha256(body).hexdigest()
    assert len(desc["classes"]) >= 1 and desc["bytes"] == sum(len(b) for b in files_of(export(task)).values())
    got = requests.get(f"{daemon.base_url}/v1/models/{model_id}", headers={"x-api-key": daemon.api_key}, timeout=10)
    assert got.status_code == 200 and got.json()["data"]["sha256"] == desc["sha256"]
    assert got.json()["data"]["report"] is None  # a plain Ultralytics export has no report.json

    # the uploaded model answers exactly as the same export served since start
    answer = predict(daemon, model_id, image)
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"] == predict(daemon, f"ref-{task}", image).json()["data"]
    assert answer.json()["data"], "the real model finds something in a COCO image"
    assert model_id in requests.get(f"{daemon.base_url}/readyz", headers={"x-api-key": daemon.api_key}, timeout=10).json()["models"]
    assert (models_dir(daemon) / model_id / "metadata.yaml").is_file()

    gone = requests.delete(f"{daemon.base_url}/v1/models/{model_id}", headers=admin(), timeout=30)
    assert gone.status_code == 200 and gone.json()["data"] == {"id": model_id, "action": "deleted", "warnings": []}
    assert predict(daemon, model_id, image).status_code == 404
    assert not (models_dir(daemon) / model_id).exists()
    assert not [n for n in listing(daemon) if n.startswith(".")], listing(daemon)


def test_changes_are_counted_and_logged(daemon: Daemon) -> None:
    body = pack_folder(export("detect"))
    assert put(daemon, "counted", body).status_code == 200
    assert put(daemon, "counted", b"not an archive" * 10).status_code == 415
    assert requests.delete(f"{daemon.base_url}/v1/models/counted", headers=admin(), timeout=30).status_code == 200
    metrics = requests.get(f"{daemon.base_url}/metrics", timeout=10).text
    for labels in ('action="upload",outcome="added"', 'action="upload",outcome="refused"',
                   'action="delete",outcome="deleted"'):
        line = next(line for line in metrics.splitlines() if line.startswith(f"yolo_edge_model_changes_total{{{labels}"))
        assert float(line.split()[-1]) >= 1, line
    log = daemon.log()
    assert 'PUT /v1/models/counted" 200' in log and f'change="added counted sha256={hashlib.sha256(body).hexdigest()[:16]}' in log
    assert 'change="upload counted refused key=' in log and 'change="deleted counted key=' in log
    assert ADMIN_KEY not in log


GOOD = None  # filled lazily: the yolov8n export's files


def good_files() -> dict[str, bytes]:
    global GOOD
    if GOOD is None:
        GOOD = files_of(export("detect"))
    return GOOD


def without(suffix: str) -> dict[str, bytes]:
    return {n: b for n, b in good_files().items() if not n.endswith(suffix)}


def with_replaced(suffix: str, data: bytes) -> dict[str, bytes]:
    return {n: (data if n.endswith(suffix) else b) for n, b in good_files().items()}


MB = 1 << 20
HOSTILE: list[tuple[str, Any, str, int, str]] = [  # id, body (or a function making it), content type, status, message
    ("absolute path", lambda: tar_with(good_files(), member("/tmp/evil.xml", size=3)), "application/gzip", 400,
     "absolute paths are not allowed"),
    ("dot-dot", lambda: tar_with(good_files(), member("../evil.txt", size=3)), "application/gzip", 400,
     "'..' in a path is not allowed"),
    ("dot-dot inside", lambda: tar_with(good_files(), member("a/../../evil.txt", size=3)), "application/gzip", 400,
     "'..' in a path is not allowed"),
    ("symlink", lambda: tar_with(good_files(), member("passwd", tarfile.SYMTYPE, link="/etc/passwd")),
     "application/gzip", 400, "'passwd' is a symbolic link; only plain files and folders are allowed"),
    ("hardlink", lambda: tar_with(good_files(), member("hard", tarfile.LNKTYPE, link="metadata.yaml")),
     "application/gzip", 400, "'hard' is a hard link"),
    ("char device", lambda: tar_with(good_files(), member("null", tarfile.CHRTYPE)), "application/gzip", 400,
     "'null' is a device"),
    ("fifo", lambda: tar_with(good_files(), member("pipe", tarfile.FIFOTYPE)), "application/x-tar", 400,
     "'pipe' is a FIFO"),
    ("zip symlink", lambda: zip_with_symlink(good_files(), "link.xml", "/etc/passwd"), "application/zip", 400,
     "'link.xml' is a symbolic link"),
    ("duplicate member", lambda: tar_with(good_files(), member("metadata.yaml", size=5)), "application/gzip", 400,
     "'metadata.yaml' appears twice"),
    ("too many members", lambda: pack({f"f{i}.txt": b"" for i in range(1001)}), "application/gzip", 400,
     "more than 1000 members"),
    ("oversize file", lambda: pack({**good_files(), "big.bin": bytes(MAX_FILE_MB * MB + 1)}), "application/gzip",
     413, f"may be at most {MAX_FILE_MB} MB (models.upload_max_file_mb)"),
    ("oversize total", lambda: pack({**good_files(), **{f"part{i}.dat": bytes(2 * MB) for i in range(3)}}),
     "application/gzip", 413, f"unpacks to more than {MAX_TOTAL_MB} MB (models.upload_max_mb)"),
    ("oversize archive", lambda: bytes(MAX_TOTAL_MB * MB + 1), "application/octet-stream", 413,
     f"at most {MAX_TOTAL_MB} MB (models.upload_max_mb)"),
    ("not an archive", lambda: b"hello, this is not a tar file\n" * 40, "application/octet-stream", 415,
     "the body is not a tar, tar.gz or zip archive"),
    ("gzip, not tar", lambda: gzip.compress(b"just text\n" * 100), "application/gzip", 400,
     "the tar archive cannot be read"),
    ("truncated tar.gz", lambda: pack(good_files())[:200_000], "application/gzip", 400, "cannot be read"),
    ("empty body", lambda: b"", "application/gzip", 400, "the request body is empty"),
    ("wrong content type", lambda: pack(good_files()), "text/plain", 415, "send the bundle archive as"),
    ("missing xml", lambda: pack(without(".xml")), "application/gzip", 422,
     "expected exactly one OpenVINO .xml file, found 0"),
    ("missing bin", lambda: pack(without(".bin")), "application/gzip", 422, "yolov8n.xml has no yolov8n.bin beside it"),
    ("missing metadata", lambda: pack(without("metadata.yaml")), "application/gzip", 422, "no metadata.yaml"),
    ("metadata not yaml", lambda: pack(with_replaced("metadata.yaml", b"task: [detect\n")), "application/gzip", 422,
     "metadata.yaml: not valid YAML"),
    ("metadata bad task", lambda: pack(with_replaced("metadata.yaml", b"task: dance\nnames: {0: a}\n")),
     "application/gzip", 422, "task 'dance' is not one of"),
    ("corrupt xml", lambda: pack(with_replaced(".xml", b"<net><layers><layer id='0' type='Bogus'/>")),
     "application/gzip", 422, "the model does not load on CPU: OpenVINO cannot read yolov8n.xml"),
    ("truncated bin", lambda: pack(with_replaced(".bin", good_files()["yolov8n.bin"][:1000])),
     "application/gzip", 422, "the model does not load on CPU"),
    ("two folders", lambda: pack({"a/x.txt": b"1", "b/y.txt": b"2"}), "application/gzip", 422,
     "at the top of the archive or inside one folder; found: a/, b/"),
]


@pytest.mark.parametrize("case, make, content_type, status, message", HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_bundle_is_refused_and_changes_nothing(daemon: Daemon, image: bytes, case: str, make: Any,
                                                       content_type: str, status: int, message: str) -> None:
    before = listing(daemon)
    victim = requests.get(f"{daemon.base_url}/v1/models/victim", headers=admin(), timeout=10).json()["data"]
    r = put(daemon, "victim", make(), content_type)
    assert r.status_code == status, r.text
    assert message in r.json()["message"], r.json()["message"]
    assert listing(daemon) == before
    after = requests.get(f"{daemon.base_url}/v1/models/victim", headers=admin(), timeout=10).json()["data"]
    assert after == victim
    assert predict(daemon, "victim", image).json()["data"] == predict(daemon, "ref-detect", image).json()["data"]
    assert not list((daemon.config_path.parent / "models").glob("../evil*")) and not Path("/tmp/evil.xml").exists()


@pytest.mark.parametrize("method, path, headers, status, message", [
    ("PUT", "/v1/models/x", {}, 401, "missing admin key"),
    ("PUT", "/v1/models/x", {"x-api-key": "wrong-key"}, 401, "the admin key is not valid for this device"),
    ("PUT", "/v1/models/x", {"x-api-key": "test-key-0123456789"}, 403, "may predict but not manage models"),
    ("DELETE", "/v1/models/victim", {}, 401, "missing admin key"),
    ("DELETE", "/v1/models/victim", {"Authorization": "Bearer wrong"}, 401, "not valid"),
    ("DELETE", "/v1/models/victim", {"Authorization": "Bearer test-key-0123456789"}, 403, "may predict but not"),
    ("DELETE", "/v1/models/nosuch", {"Authorization": f"Bearer {ADMIN_KEY}"}, 404, "'nosuch' is not served here"),
    ("PUT", "/v1/models/bad%20id", {"x-api-key": ADMIN_KEY}, 400, "is not usable as a folder name"),
    ("GET", "/v1/models/victim", {}, 401, "missing API key"),
    ("GET", "/v1/models/nosuch", {"x-api-key": ADMIN_KEY}, 404, "'nosuch' is not served here"),
])
def test_admin_key_table(daemon: Daemon, method: str, path: str, headers: dict[str, str], status: int,
                         message: str) -> None:
    before = listing(daemon)
    r = requests.request(method, daemon.base_url + path, headers={"Content-Type": "application/gzip", **headers},
                         data=pack(good_files()) if method == "PUT" else None, timeout=60)
    assert (r.status_code, message in r.json()["message"]) == (status, True), r.text
    assert listing(daemon) == before


def test_replace_under_load_fails_no_request(daemon: Daemon, image: bytes) -> None:
    """Threads predict on 'swap' without pause while it is replaced by yolo11n and back by yolov8n."""
    v8, v11 = pack_folder(export("detect")), pack_folder(export("detect11"))
    t0 = time.perf_counter()
    first = put(daemon, "swap", v8)
    upload_to_serving = time.perf_counter() - t0
    assert first.status_code == 200
    expected = {hashlib.sha256(v8).hexdigest(): predict(daemon, "ref-detect", image).json()["data"],
                hashlib.sha256(v11).hexdigest(): predict(daemon, "ref-detect11", image).json()["data"]}
    results: list[tuple[float, float, int, Any]] = []
    stop = threading.Event()

    def client() -> None:
        session = requests.Session()
        while not stop.is_set():
            start = time.perf_counter()
            r = predict(daemon, "swap", image, session)
            results.append((start, time.perf_counter(), r.status_code, r.json().get("data")))

    threads = [threading.Thread(target=client) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    windows = []
    for body in (v11, v8):
        w0 = time.perf_counter()
        r = put(daemon, "swap", body)
        windows.append((w0, time.perf_counter()))
        assert r.status_code == 200 and r.json()["data"]["action"] == "replaced", r.text
        after = predict(daemon, "swap", image).json()["data"]
        assert after == expected[hashlib.sha256(body).hexdigest()]  # the new model serves at once
        time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join(60)
    failed = [r for r in results if r[2] != 200]
    assert not failed, failed[:3]
    # every answer came from one of the two models, whole: never a mix, never empty
    assert all(r[3] in expected.values() for r in results)
    during = sorted(end - start for start, end, _, _ in results if any(a <= end and start <= b for a, b in windows))
    steady = sorted(end - start for start, end, _, _ in results if not any(a <= end and start <= b for a, b in windows))

    def pct(values: list[float], q: float) -> float:
        return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 1) if values else 0.0

    figures = {"upload_to_serving_s_yolov8n": round(upload_to_serving, 3),
               "server_seconds": first.json()["data"]["seconds"], "requests": len(results), "failed": len(failed),
               "during_swaps": len(during), "p50_ms_during": pct(during, 0.5), "p99_ms_during": pct(during, 0.99),
               "p50_ms_steady": pct(steady, 0.5), "p99_ms_steady": pct(steady, 0.99),
               "swap_window_s": [round(b - a, 3) for a, b in windows]}
    FIGURES_DIR.mkdir(parents=True, exist_ok=True)
    (FIGURES_DIR / "model_replace_under_load.json").write_text(json.dumps(figures))
    print("model_replace_under_load", figures)
    assert during, "the swaps happened while requests were in flight"

    # a SIGHUP reload after the upload serves what is on disk: the same model, same bytes
    sha = requests.get(f"{daemon.base_url}/v1/models/swap", headers=admin(), timeout=10).json()["data"]["sha256"]
    mark = len(daemon.log())
    daemon.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 120
    while "reload: now serving" not in daemon.log()[mark:]:
        assert time.monotonic() < deadline and "reload failed" not in daemon.log()[mark:], daemon.log()[mark:]
        time.sleep(0.1)
    again = requests.get(f"{daemon.base_url}/v1/models/swap", headers=admin(), timeout=10).json()["data"]
    assert again["sha256"] == sha
    assert predict(daemon, "swap", image).json()["data"] == expected[sha]
    assert requests.delete(f"{daemon.base_url}/v1/models/swap", headers=admin(), timeout=30).status_code == 200


def test_last_model_cannot_be_deleted_and_off_without_admin_keys(tmp_path: Path) -> None:
    d = start_daemon(tmp_path, link_models(tmp_path, {"only": export("detect")}))
    try:
        r = requests.delete(f"{d.base_url}/v1/models/only", headers=admin(), timeout=10)
        assert r.status_code == 403 and "model management is off on this device" in r.json()["message"], r.text
    finally:
        d.stop()
    (tmp_path / "admin_keys").write_text(ADMIN_KEY + "\n")
    d = start_daemon(tmp_path, tmp_path / "models", extra={"auth": {"admin_keys_file": str(tmp_path / "admin_keys")}})
    try:
        r = requests.delete(f"{d.base_url}/v1/models/only", headers=admin(), timeout=10)
        assert r.status_code == 409 and "is the only model served" in r.json()["message"], r.text
        assert (tmp_path / "models" / "only").exists()
    finally:
        d.stop()
