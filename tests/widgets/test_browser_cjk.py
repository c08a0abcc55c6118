"""CJK file names in the upload widget render as glyphs, not as empty boxes.

Chromium draws a character that no installed font covers as the same empty box (tofu), whatever
the character. So the test draws every distinct CJK character of each uploaded name, in the font
the widget's name cell actually uses, and requires that no two of them look alike and that each
has ink. Without a CJK font (Debian's fonts-noto-cjk, which `make test` installs) it fails.
"""

import time

import pytest

from tests.widgets.test_browser import (
    ARTIFACTS,
    chromium_page,
    jupyterlab,
    open_widget,
    pytestmark,  # noqa: F401 - the same Chromium and Playwright requirements
    row_codes,
)

NAMES = {
    "ja": "東京の写真と説明.txt",
    "zh": "北京图书馆藏品说明.txt",
}

# For a name cell: each distinct CJK character drawn alone in the cell's own font; returns the
# characters and their pixels' alpha channel, as lists.
GLYPHS_JS = """(el) => {
    const font = getComputedStyle(el).font;
    const chars = [...new Set([...el.textContent].filter(c => /[\\u3040-\\u30ff\\u4e00-\\u9fff]/.test(c)))];
    const canvas = document.createElement("canvas");
    canvas.width = 48; canvas.height = 48;
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    return chars.map(c => {
        ctx.clearRect(0, 0, 48, 48);
        ctx.font = font.replace(/\\d+(\\.\\d+)?px/, "32px");
        ctx.textBaseline = "top";
        ctx.fillStyle = "#000";
        ctx.fillText(c, 4, 4);
        const alpha = Array.from(ctx.getImageData(0, 0, 48, 48).data.filter((_, i) => i % 4 === 3));
        return [c, alpha];
    });
}"""


@pytest.mark.timeout(180)
def test_cjk_names_render_as_glyphs(tmp_path):
    from playwright.sync_api import expect

    from iscc_lab import create_iscc

    files = tmp_path / "files"
    files.mkdir()
    paths = []
    for lang, name in NAMES.items():
        path = files / name
        path.write_text(f"{name} ({lang}): " + "一二三四五六七八九十。" * 40, encoding="utf-8")
        paths.append(path)

    with jupyterlab(tmp_path) as lab, chromium_page("cjk") as page:
        widget = open_widget(page, lab["url"], "server")
        widget.locator("input[type=file]").set_input_files([str(p) for p in paths])
        expect(widget.locator(".iscc-upload-row[data-status='done']")).to_have_count(
            2, timeout=60_000
        )
        codes = row_codes(widget)
        for path in paths:
            assert codes[path.name] == create_iscc(path)["iscc"]

        names = widget.locator(".iscc-upload-row .iscc-upload-name")
        for i in range(names.count()):
            cell = names.nth(i)
            glyphs = cell.evaluate(GLYPHS_JS)
            text = cell.inner_text()
            assert len(glyphs) >= 6, (text, [c for c, _ in glyphs])
            for char, alpha in glyphs:
                assert sum(1 for a in alpha if a > 0) > 20, f"{char!r} of {text!r} has no ink"
            seen: dict[tuple, str] = {}
            for char, alpha in glyphs:
                key = tuple(alpha)
                assert key not in seen, (
                    f"{char!r} and {seen[key]!r} of {text!r} are drawn alike: the name shows "
                    "as empty boxes (no CJK font; Debian: apt-get install fonts-noto-cjk)"
                )
                seen[key] = char
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        time.sleep(0.2)
        widget.screenshot(path=str(ARTIFACTS / "upload-widget-cjk.png"))
