"""Screenshots of the built docs site for the repository: its landing page and one operator guide.

Run after `make docs`: `.venv/bin/python -m devtools.docs_screenshots`. Needs Debian's headless Chromium
and its driver (`apt-get install -y chromium chromium-driver`), as the UI tests do.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "docs" / "_build" / "html"
# (page in the built site, screenshot in docs/)
PAGES = (("index.html", "site-landing.png"), ("howto/train-and-gate.html", "site-operator-guide.png"))


def main() -> None:
    missing = [page for page, _ in PAGES if not (SITE / page).is_file()]
    if missing:
        raise SystemExit(f"{SITE}: {', '.join(missing)} not built; run `make docs` first")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    with tempfile.TemporaryDirectory() as profile:
        for argument in (
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--window-size=1400,1000",
            f"--user-data-dir={profile}",
        ):
            options.add_argument(argument)
        driver = webdriver.Chrome(
            service=Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options
        )
        try:
            for page, image in PAGES:
                driver.get((SITE / page).as_uri())
                driver.save_screenshot(str(ROOT / "docs" / image))
                print(f"docs/{image}: {page}")
        finally:
            driver.quit()


if __name__ == "__main__":
    main()
