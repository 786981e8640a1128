"""The Lighthouse CI configuration (lighthouse/): the plan's criteria per preset, and the
run's config naming every page, logged in, with reports saved to files."""

import importlib.util
import json
from pathlib import Path

import pytest
from django.conf import settings

LIGHTHOUSE = Path(settings.BASE_DIR) / "lighthouse"


def run_module():
    spec = importlib.util.spec_from_file_location("lighthouse_run", LIGHTHOUSE / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("preset", "min_score"), [("desktop", 0.95), ("mobile", 0.90)])
def test_each_preset_asserts_the_plans_criteria(preset, min_score):
    config = json.loads((LIGHTHOUSE / f"lighthouserc.{preset}.json").read_text())
    assertions = config["ci"]["assert"]["assertions"]
    assert assertions["categories:performance"] == ["error", {"minScore": min_score}]
    assert assertions["first-contentful-paint"] == ["error", {"maxNumericValue": 1500}]
    assert assertions["interactive"] == ["error", {"maxNumericValue": 3000}]
    assert assertions["cumulative-layout-shift"] == ["error", {"maxNumericValue": 0.1}]
    # Byte budgets: the whole page, and its JavaScript within the 20 KB the plan allows.
    assert assertions["total-byte-weight"][0] == "error"
    assert assertions["resource-summary:script:size"] == ["error", {"maxNumericValue": 20480}]
    settings_ = config["ci"]["collect"]["settings"]
    assert settings_.get("preset") == ("desktop" if preset == "desktop" else None)


def test_the_run_config_names_every_page_logged_in_and_saves_reports(tmp_path):
    run = run_module()
    seeded = {"cookie": "sessionid=abc", "pages": {"home": "/", "orders": "/orders/"}}
    config = run.preset_config("mobile", work=tmp_path, base_url="http://127.0.0.1:8123", seeded=seeded)
    collect = config["ci"]["collect"]
    assert collect["url"] == ["http://127.0.0.1:8123/", "http://127.0.0.1:8123/orders/"]
    # lhci resolves the login script from its working directory.
    assert (tmp_path / collect["puppeteerScript"]).resolve() == LIGHTHOUSE / "login.js"
    assert collect["puppeteerLaunchOptions"]["executablePath"] == run.CHROME_PATH
    assert collect["puppeteerLaunchOptions"]["userDataDir"] == str(tmp_path / "profile")
    # The cookie travels in the environment of lhci, never in a file.
    assert "abc" not in json.dumps(config)
    assert config["ci"]["upload"] == {"target": "filesystem", "outputDir": str(run.RESULTS / "mobile")}


def test_the_lock_file_pins_lhci_exactly():
    package = json.loads((LIGHTHOUSE / "package.json").read_text())
    lock = json.loads((LIGHTHOUSE / "package-lock.json").read_text())
    assert package["dependencies"]["@lhci/cli"] == "0.14.0"
    assert lock["packages"]["node_modules/@lhci/cli"]["version"] == "0.14.0"
    assert lock["packages"]["node_modules/@lhci/cli"]["integrity"].startswith("sha512-")
