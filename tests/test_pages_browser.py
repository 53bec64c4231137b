"""Pages in a real browser (Debian's Chromium driven by Playwright) against a live server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import HQ_EMAIL, HQ_PASSWORD, MEMBER_PASSWORD

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parent.parent / ".dev" / "screenshots"


def test_storefronts_hq_and_login_isolation(browser: Any, live_url: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone
    page = context.new_page()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    page.goto(f"http://localhost{live_url}/")
    assert page.get_by_test_id("hq-title").inner_text() == "Kameng head office"

    page.goto(f"http://alpha.localhost{live_url}/")
    assert page.get_by_test_id("site-name").inner_text() == "Alpha Cards"
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    page.screenshot(path=str(SCREENSHOTS / "alpha-home.png"), full_page=True)

    page.goto(f"http://beta.localhost{live_url}/")
    assert page.get_by_test_id("site-name").inner_text() == "Beta Codes"

    # Log in on alpha through the form.
    page.goto(f"http://alpha.localhost{live_url}/accounts/login/")
    page.fill("input[name=login]", "member@alpha.test")
    page.fill("input[name=password]", MEMBER_PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(f"http://alpha.localhost{live_url}/")
    assert "member@alpha.test" in page.get_by_test_id("signed-in-as").inner_text()

    # Beta does not know this visitor, even when handed alpha's session cookie.
    alpha_session = next(c for c in context.cookies() if c["name"] == "sessionid")
    context.add_cookies(
        [
            {
                "name": "sessionid",
                "value": alpha_session["value"],
                "url": f"http://beta.localhost{live_url}/",
            }
        ]
    )
    page.goto(f"http://beta.localhost{live_url}/")
    assert page.get_by_test_id("signed-in-as").count() == 0
    assert page.get_by_role("link", name="登录").first.is_visible()

    # An unknown host gets the 404 page.
    response = page.goto(f"http://nobody.localhost{live_url}/")
    assert response is not None and response.status == 404
    context.close()


def test_language_switch_persists(browser: Any, live_url: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"http://beta.localhost{live_url}/")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    with page.expect_navigation():
        page.select_option("select[name=language]", "en")
    assert page.locator("html").get_attribute("lang") == "en"
    page.goto(f"http://beta.localhost{live_url}/")
    assert page.locator("html").get_attribute("lang") == "en"
    context.close()


def test_hq_staff_sign_in_and_see_the_site_tree(browser: Any, live_url: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"http://localhost{live_url}/dashboard/")
    assert "/accounts/login/" in page.url
    page.fill("input[name=login]", HQ_EMAIL)
    page.fill("input[name=password]", HQ_PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(f"http://localhost{live_url}/dashboard/")
    rows = page.locator("table.table tbody tr").all_inner_texts()
    assert any("Alpha Cards" in row and "alpha" in row for row in rows)
    assert any("Kid" in row and "alpha-kid" in row for row in rows)
    page.screenshot(path=str(SCREENSHOTS / "hq-dashboard.png"), full_page=True)
    # The HQ session is not a session on any site.
    page.goto(f"http://alpha.localhost{live_url}/")
    assert page.get_by_test_id("signed-in-as").count() == 0
    context.close()
