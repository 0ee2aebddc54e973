"""The console's Models page in real headless Chromium: the list, an upload that a predict-only key
may not make (the daemon's 403 message shown), an upload with the admin key that then serves and
shows in the model list, and its deletion after the confirmation."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.console.conftest import Console, served
from tests.support.bundles import ADMIN_KEY, pack_folder
from tests.support.shared_data import require_shared_data

pytestmark = [pytest.mark.browser, pytest.mark.shared_data]


def models_listed(console: Console) -> list[str]:
    return console.page.eval_on_selector_all("#models-table tbody tr td:first-child", "tds => tds.map(t => t.textContent)")


def upload(console: Console, bundle: Path, model_id: str, admin_key: str) -> str:
    page = console.page
    page.fill("#upload-id", model_id)
    page.set_input_files("#upload-file", str(bundle))
    page.fill("#admin-key", admin_key)
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#models-status[data-state=done], #models-status[data-state=error]", timeout=120_000)
    return page.text_content("#models-status") or ""


def test_list_upload_and_delete(console: Console, tmp_path: Path) -> None:
    bundle = tmp_path / "uploaded.tar.gz"
    bundle.write_bytes(pack_folder(require_shared_data() / "models" / "yolov8n_int8_openvino_model"))
    page = console.page
    console.sign_in(console.daemon.api_key)
    page.wait_for_selector("#model option", state="attached")
    page.click("[data-tab=models]")
    page.wait_for_selector("#models-table tbody tr")
    assert sorted(models_listed(console)) == served(console.daemon)
    row = page.inner_text("#models-table tbody tr:has(td:text-is('yolo11n-seg'))")
    assert "segment" in row and "int8" in row and "CPU" in row and "640×640" in row

    refused = upload(console, bundle, "uploaded", "")  # no admin key: the signed-in predict key is sent
    assert "403" in refused and "may predict but not manage models" in refused

    answer = upload(console, bundle, "uploaded", ADMIN_KEY)
    assert answer == "uploaded: added", answer
    page.wait_for_selector("#models-table tbody tr td:text-is('uploaded')")
    assert "uploaded" in page.eval_on_selector_all("#model option", "os => os.map(o => o.value)")

    page.click("#models-table tbody tr:has(td:text-is('uploaded')) button")  # confirm() dismissed: nothing
    assert "uploaded" in models_listed(console) and any("dialog confirm" in m for m in console.messages)
    console.accept_confirm = True
    page.click("#models-table tbody tr:has(td:text-is('uploaded')) button")
    page.wait_for_selector("#models-status[data-state=done]:has-text('uploaded deleted')")
    page.wait_for_selector("#models-table tbody tr td:text-is('uploaded')", state="detached")
    assert console.csp_violations() == []
