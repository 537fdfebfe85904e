"""A real headless Chromium for the console's browser tests: Debian's (deploy/system-packages.sh
installs it), driven by Playwright; never a downloaded browser build."""

import os
from collections.abc import Iterator

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--lang=zh-CN",  # date and time fields in Chinese (Debian's chromium-l10n)
]


@pytest.fixture(scope="module")
def chromium() -> Iterator:
    """One browser for a module of browser tests; stopped after it, so the tests that follow
    run without Playwright's event loop in their thread."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread while it runs; the tests' own
    # ORM calls are still synchronous, so Django's guard against ORM calls from async code is
    # lifted for as long as the browser is up, and only then.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            # Chromium formats date and time fields by LANG (with chromium-l10n installed)
            env = {**os.environ, "LANG": "zh_CN.UTF-8", "LANGUAGE": "zh_CN"}
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, env=env)
            yield browser
            browser.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def browser_page(chromium, live_server):
    """A fresh browser context (its own cookies) per call: `browser_page()` → a page."""
    contexts = []

    def open_page():
        context = chromium.new_context(base_url=live_server.url, locale="zh-CN")
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def sign_in(page, username: str, code: str, password: str = "Secret-12345") -> None:
    """Open the site's root (the landing page), follow its link to the console's sign-in, sign in."""
    page.goto("/")
    page.get_by_role("link", name="登录管理控制台").click()
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码", exact=True).fill(password)
    page.get_by_label("动态口令").fill(code)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/console/")


def nav(page, label: str):
    """A link of the console's side navigation."""
    return page.get_by_role("navigation", name="控制台导航").get_by_role("link", name=label)
