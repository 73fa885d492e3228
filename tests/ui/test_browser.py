"""A real browser: headless Chromium loads the running app, submits the default patient.

``UPDATE_SCREENSHOTS=1`` also saves the page as docs/streamlit.png (the README's picture).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from readmission_local.process import free_port, http_ok, wait_until

from tests.ui.conftest import APP, REPO

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture
def streamlit_url(api, tmp_path):
    port = free_port()
    log = tmp_path / "streamlit.log"
    env = {**os.environ, "API_URL": api.url, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(APP),
                "--server.port",
                str(port),
                "--server.address",
                "127.0.0.1",
                "--server.headless",
                "true",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_ok(url + "/_stcore/health"), 60, "streamlit", log)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


needs_chromium = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="Debian's chromium and chromium-driver are not installed (.ci/run installs them)",
)


def chromium(tmp_path: Path):  # a selenium WebDriver
    """Headless Chromium with a throwaway profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,2600",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(DRIVER), options=options)


def check_screenshot(shot: Path, docs_name: str) -> None:
    """A real, non-blank page; copied into docs/ with UPDATE_SCREENSHOTS=1."""
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(shot, REPO / "docs" / docs_name)
    with Image.open(shot) as image:
        assert image.format == "PNG" and image.size[0] >= 1000
        colors = image.convert("RGB").getcolors(maxcolors=1_000_000)
        assert colors is None or len(colors) > 50  # not a blank page


@needs_chromium
def test_chromium_submits_the_default_patient_and_sees_the_version(
    streamlit_url, registered, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chromium(tmp_path)
    try:
        driver.get(streamlit_url)
        wait = WebDriverWait(driver, 90)
        button = wait.until(
            ec.element_to_be_clickable(
                (By.XPATH, "//button[.//*[contains(text(), 'Predict readmission risk')]]")
            )
        )
        button.click()
        # The probability's metric, by its label (the Model tab has metrics of its own).
        probability = (
            "//*[@data-testid='stMetric'][.//*[contains(text(), 'Probability of readmission')]]"
            "//*[@data-testid='stMetricValue']"
        )
        metric = wait.until(ec.presence_of_element_located((By.XPATH, probability)))
        wait.until(lambda d: "%" in metric.text)
        shown = metric.text
        page = driver.find_element(By.TAG_NAME, "body").text
        shot = tmp_path / "after-predict.png"
        driver.save_screenshot(str(shot))
    finally:
        driver.quit()
    assert 0 < float(shown.rstrip("%")) < 100
    assert "Probability of readmission within 30 days" in page
    assert registered.name in page and "version" in page
    assert "Deploy" not in page  # the developer toolbar is hidden (.streamlit/config.toml)
    assert "428 · Congestive heart failure, unspecified" in page and "CCS 108" in page
    check_screenshot(shot, "streamlit.png")


@needs_chromium
def test_chromium_shows_the_monitoring_tab_with_data(
    streamlit_url, drift_checked, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chromium(tmp_path)
    try:
        driver.get(streamlit_url)
        wait = WebDriverWait(driver, 90)
        tab = (By.XPATH, "//*[@role='tab' and contains(., 'Monitoring')]")
        wait.until(ec.element_to_be_clickable(tab)).click()
        heading = "//*[contains(text(), 'Retraining asked for by drift')]"
        wait.until(ec.visibility_of_element_located((By.XPATH, heading)))
        wait.until(
            lambda d: (
                "waiting for the next training run" in d.find_element(By.TAG_NAME, "body").text
            )
        )
        page = driver.find_element(By.TAG_NAME, "body").text
        shot = tmp_path / "monitoring.png"
        driver.save_screenshot(str(shot))
    finally:
        driver.quit()
    assert "Now: the API's window of recent requests" in page and "probability" in page
    assert drift_checked[-1]["reason"] in page
    check_screenshot(shot, "monitoring.png")
