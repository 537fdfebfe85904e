"""The console's accessibility check in a real browser: `a11y_check.js` (the project's own
checker, no third-party engine) evaluated in a Playwright page; see its header for the rules."""

from pathlib import Path

CHECK = (Path(__file__).with_name("a11y_check.js")).read_text(encoding="utf-8")


def violations(page) -> list[dict]:
    """What the checker finds in the page as it is now: [{rule, where, detail}, …]."""
    return page.evaluate(CHECK)


def assert_accessible(page, screen: str) -> None:
    """Fails with every violation listed, each on a line, naming the screen."""
    found = violations(page)
    lines = "\n".join(f"  {v['rule']}: {v['where']} — {v['detail']}" for v in found)
    assert not found, f"{screen} ({page.url}): {len(found)} accessibility violation(s)\n{lines}"
