"""Shared by `make screenshots`: where the PNGs go and how a screen is saved."""

from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def shoot(page, name: str, *, full_page: bool = True) -> Path:
    """Save the page (fonts loaded, nothing animating) as docs/screenshots/<name>.png."""
    OUT.mkdir(parents=True, exist_ok=True)
    page.evaluate("document.fonts.ready")
    path = OUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page, animations="disabled")
    return path
