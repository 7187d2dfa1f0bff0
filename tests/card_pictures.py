"""One card with every component, and what headless Chromium must show of it: the table's cells, the image at its
size, the chart's marks and the image's colour in a screenshot. Shared by the renderer's test, a local run's card
(test_cards.py) and an Airflow run's card opened through its Card link (test_airflow_cards.py)."""
import io
import shutil

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
IMAGE_COLOUR = (0, 170, 85)      # the solid image's colour, looked for in the screenshot
CHART_COLOUR = (255, 0, 255)     # the bar chart's marks (#ff00ff)
IMAGE_SIZE = (120, 80)

# A step's body (8 spaces in) appending every component to its card, with the texts and colours checked below
EVERY_COMPONENT_STEP = f'''
        import io
        from PIL import Image as PILImage
        from airflow_flow_triggers.cards import (Artifact, Error, Image, JSONViewer, Markdown, ProgressBar,
                                                 PythonCode, Table, ValueBox, VegaChart, YAMLViewer)
        picture = io.BytesIO()
        PILImage.new("RGB", {IMAGE_SIZE!r}, {IMAGE_COLOUR!r}).save(picture, format="PNG")
        current.card.extend([
            Markdown("# Card heading\\n\\nSome *emphasis* and <script>alert(1)</script> as text."),
            Table([["cell-alpha", 1], ["cell-beta", Markdown("**bold cell**")]], headers=["Name", "Value"]),
            Image(picture.getvalue(), "solid image"),
            VegaChart({{"data": {{"values": [{{"k": "a", "v": 3}}, {{"k": "b", "v": 7}}, {{"k": "c", "v": 5}}]}},
                       "mark": {{"type": "bar", "color": "#ff00ff"}},
                       "encoding": {{"x": {{"field": "k", "type": "nominal"}},
                                    "y": {{"field": "v", "type": "quantitative"}}}}}}),
            ProgressBar(max=100, label="Loading", value=40, unit="%"),
            ValueBox(title="Accuracy", value="97%", subtitle="on the test set", theme="success",
                     change_indicator="Up 2%"),
            JSONViewer({{"json": {{"key": [1, 2]}}}}, title="JSON data"),
            YAMLViewer({{"yaml": {{"key": "value"}}}}, title="YAML data"),
            Error(ValueError("shown on purpose"), "An error"),
            Artifact({{"artifact": list(range(3))}}, name="an artifact"),
            PythonCode(code_string="print('code')"),
        ])
'''


def check_every_component(frame, screenshot: bytes) -> None:
    """`frame` (a Playwright page or frame) shows the card of EVERY_COMPONENT_STEP, and `screenshot` (PNG) its
    image and its chart's bars."""
    from PIL import Image as PILImage
    cells = frame.locator("table.horizontal td").all_inner_texts()
    assert [cell.strip() for cell in cells] == ["cell-alpha", "1", "cell-beta", "bold cell"]
    assert frame.locator("table.horizontal td >> text=cell-alpha").is_visible()
    assert frame.eval_on_selector("img.card-image", "img => [img.naturalWidth, img.naturalHeight]") == \
        list(IMAGE_SIZE)
    assert frame.eval_on_selector("img.vega-chart", "img => img.naturalWidth") > 0
    assert frame.eval_on_selector("progress", "p => [p.value, p.max]") == [40, 100]
    assert frame.locator("h1:has-text('Card heading')").is_visible()
    assert frame.locator("text=<script>alert(1)</script>").count() == 1      # Markdown's raw HTML is text
    colours = PILImage.open(io.BytesIO(screenshot)).convert("RGB").getcolors(maxcolors=1 << 24)
    counts = {colour: count for count, colour in colours}
    assert counts.get(IMAGE_COLOUR, 0) >= 100 * 60      # the image, drawn at its size
    assert counts.get(CHART_COLOUR, 0) >= 500           # the chart's bars


def check_card_file_offline(path) -> bytes:
    """Open the card file `path` in headless Chromium with every other request refused, check it shows every
    component (check_every_component) and loaded nothing else; returns its screenshot."""
    import pytest
    playwright_api = pytest.importorskip("playwright.sync_api")
    url, elsewhere = path.as_uri(), []
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 800})
            page.route("**/*", lambda route: route.continue_() if route.request.url == url else
                       (elsewhere.append(route.request.url), route.abort()))
            page.goto(url)
            page.wait_for_load_state("load")
            screenshot = page.screenshot(full_page=True)
            check_every_component(page, screenshot)
        finally:
            browser.close()
    assert elsewhere == []
    return screenshot

