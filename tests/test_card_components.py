"""Card components and card HTML: the components render the same dicts as Metaflow's (the oracle), a broken
component never breaks a card, the HTML is one self-contained document, and Chromium shows it all offline."""
import copy
import datetime
import decimal
import io
import json
import os
import re
import textwrap
import types

import pytest
from card_pictures import EVERY_COMPONENT_STEP, IMAGE_COLOUR, check_card_file_offline
from conftest import REPO

from airflow_flow_triggers import cards as ours
from airflow_flow_triggers.reports.components import rendered
from airflow_flow_triggers.reports.default_card import default_card_components
from airflow_flow_triggers.reports.html import card_html


def png(colour=IMAGE_COLOUR, size=(120, 80)) -> bytes:
    from PIL import Image as PILImage
    buffer = io.BytesIO()
    PILImage.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def bar_spec() -> dict:
    return {"data": {"values": [{"k": "a", "v": 3}, {"k": "b", "v": 7}, {"k": "c", "v": 5}]},
            "mark": {"type": "bar", "color": "#ff00ff"},
            "encoding": {"x": {"field": "k", "type": "nominal"}, "y": {"field": "v", "type": "quantitative"}}}


def dataframe():
    import pandas as pd
    return pd.DataFrame({"n": [1, 2, 3, 4, 5, 6], "x": [0.5, None, 2.5, 3.0, 4.0, 5.0],
                         "s": ["short", "a text longer than thirty characters for sure", None, "d", "e", "f"],
                         "when": pd.to_datetime([f"2024-01-0{day}" for day in range(1, 7)]),
                         "c": pd.Categorical(["u", "v", "u", "v", "u", "v"])})


def matplotlib_figure():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, axes = plt.subplots(figsize=(2, 1.5), dpi=50)
    axes.plot([1, 2, 3], [3, 1, 2])
    return figure


def altair_chart():
    import altair as alt
    import pandas as pd
    return alt.Chart(pd.DataFrame({"k": ["a", "b"], "v": [1, 2]})).mark_bar().encode(x="k", y="v")


class Opaque:
    """An object with no JSON form and a repr of its own."""

    def __repr__(self):
        return "Opaque()"


OPAQUE = Opaque()
ARTIFACT_VALUES = [1, 2.5, -3, True, None, "text", "x" * 500, b"bytes", b"it's \x00" * 300, b'"q"' * 300,
                   b"'ab" * 200 + b'"', b"a" * 1000 + b"'",
                   bytearray(b"abc"), bytearray(b"\xff" * 1000), [1, 2, [3, 4]], list(range(200)), (1, "a"),
                   {"a": {"b": {"c": {"d": 1}}}}, {i: str(i) for i in range(10)}, {1, 2, 3}, frozenset({4}),
                   datetime.datetime(2024, 5, 6, 7, 8, 9), decimal.Decimal("1.25"), 3 + 4j, range(10), int,
                   ValueError("boom"), Exception("plain"), OPAQUE, [OPAQUE, {"k": OPAQUE}]]

# Each case builds a component from a module holding the components (Metaflow's `metaflow.cards` or ours).
CASES = {
    "markdown heading": lambda c: c.Markdown("# A heading\n\nsome *text*"),
    "markdown indented": lambda c: c.Markdown("""
        Intro
        - one
        - two
    """),
    "markdown none": lambda c: c.Markdown(),
    "markdown updated": lambda c: updated(c.Markdown("old"), "# new"),
    "table": lambda c: c.Table([[1, "a", None, 2.5, True, {"k": 1}, (1, 2), [3]],
                                [c.Markdown("cell"), c.Artifact({"a": 1}), c.Image(png(), "in a table"),
                                 OPAQUE, decimal.Decimal(1), c.ProgressBar(10, value=3),
                                 c.VegaChart(bar_spec()), c.Error(KeyError("k"), "boom")]],
                               headers=[f"h{i}" for i in range(8)]),
    "table no data": lambda c: c.Table(),
    "table bad data": lambda c: c.Table(data="not rows", headers="not headers"),
    "table of dataframe": lambda c: c.Table.from_dataframe(dataframe()),
    "table of whole dataframe": lambda c: c.Table.from_dataframe(dataframe(), truncate=False),
    "table of not a dataframe": lambda c: c.Table.from_dataframe([1, 2]),
    "image bytes": lambda c: c.Image(png(), "a label"),
    "image data uri": lambda c: c.Image("data:image/png;base64,AAAA"),
    "image bad string": lambda c: c.Image("not an image"),
    "image bad bytes": lambda c: c.Image(b"not an image"),
    "image none": lambda c: c.Image(),
    "image of int": lambda c: c.Image(5),
    "image of pil": lambda c: c.Image.from_pil_image(pil_image(), "pil"),
    "image of not pil": lambda c: c.Image.from_pil_image("nope"),
    "image of figure": lambda c: c.Image.from_matplotlib(matplotlib_figure(), "figure"),
    "image of axes": lambda c: c.Image.from_matplotlib(matplotlib_figure().axes[0]),
    "image of not a figure": lambda c: c.Image.from_matplotlib(5),
    "image updated": lambda c: updated(c.Image.from_pil_image(pil_image()), png((1, 2, 3)), label="new"),
    "image not updatable": lambda c: updated(c.Image(png()), png((1, 2, 3))),
    "artifact named": lambda c: c.Artifact({"a": [1, 2]}, name="thing"),
    "artifact updated": lambda c: updated(c.Artifact(1), [2]),
    "artifact dataframe": lambda c: c.Artifact(dataframe()),
    "artifact dataframe uncompressed": lambda c: c.Artifact(dataframe().drop(columns=["when"]), compressed=False),
    **{f"artifact {i} ({type(value).__name__})": (lambda c, v=value: c.Artifact(v)) for i, value in
       enumerate(ARTIFACT_VALUES)},
    **{f"artifact {i} ({type(value).__name__}) uncompressed": (lambda c, v=value: c.Artifact(v, compressed=False))
       for i, value in enumerate(ARTIFACT_VALUES)},
    "vega": lambda c: c.VegaChart(bar_spec()),
    "vega with width and controls": lambda c: c.VegaChart({**bar_spec(), "width": 200}, show_controls=True),
    "vega updated": lambda c: updated(c.VegaChart(bar_spec()), {**bar_spec(), "mark": "point"}),
    "vega bad spec": lambda c: c.VegaChart(None),
    "vega of altair": lambda c: c.VegaChart.from_altair_chart(altair_chart()),
    "vega updated with altair": lambda c: updated(c.VegaChart(bar_spec()), altair_chart()),
    "progress": lambda c: c.ProgressBar(max=100, label="Loading", value=40, unit="%", metadata="1 item/s"),
    "progress plain": lambda c: c.ProgressBar(),
    "progress updated": lambda c: updated(c.ProgressBar(50), 20, metadata="fast"),
    "error": lambda c: c.Error(ValueError("bad value"), "It failed"),
    "error untitled": lambda c: c.Error(RuntimeError()),
    "value box": lambda c: c.ValueBox(title="Revenue", value="$1.2M", subtitle="Monthly", theme="success",
                                      change_indicator="Up 15%"),
    "value box number": lambda c: c.ValueBox(value=42),
    "value box updated": lambda c: updated(c.ValueBox(value=1), value=2, title="Count", theme="my-theme"),
    "json": lambda c: c.JSONViewer({"a": [1, 2], "b": {"c": None}}, collapsible=False, max_height="300px",
                                   show_copy_button=False, title="Config"),
    "json of json string": lambda c: c.JSONViewer('{"a":1}'),
    "json of plain string": lambda c: c.JSONViewer("plain"),
    "json of objects": lambda c: c.JSONViewer({"when": datetime.date(2024, 1, 2), "set": OPAQUE}),
    "json circular": lambda c: c.JSONViewer(circular()),
    "yaml": lambda c: c.YAMLViewer({"db": {"host": "localhost", "port": 5432}, "features": ["a", "b"]},
                                   max_height="20rem", title="Settings"),
    "yaml of json string": lambda c: c.YAMLViewer('{"z": 1, "a": [1]}'),
    "yaml of plain string": lambda c: c.YAMLViewer("key: value"),
    "yaml of object": lambda c: c.YAMLViewer(OPAQUE),
    "yaml updated": lambda c: updated(c.YAMLViewer({}), [1, 2]),
    "python code string": lambda c: c.PythonCode(code_string="def f():\n    return 1\n"),
    "python code function": lambda c: c.PythonCode(png),
    "python code missing": lambda c: c.PythonCode(),
}


def pil_image():
    from PIL import Image as PILImage
    return PILImage.new("RGB", (10, 6), (200, 10, 10))


def circular():
    data = {}
    data["self"] = data
    return data


def updated(component, *args, **kwargs):
    component.update(*args, **kwargs)
    return component


def normalised(rendered):
    """Ids are random (six hex digits after the class name), as are tracebacks' paths (the two packages'
    files differ): keep the id's class-name part and a traceback's last line, the error itself."""
    if isinstance(rendered, dict):
        result = {key: normalised(value) for key, value in rendered.items()}
        if isinstance(result.get("id"), str):
            result["id"] = re.sub(r"_[0-9a-f]{6}$", "_<id>", result["id"])
        if result.get("type") == "log" and "Traceback (most recent call last)" in result.get("data", ""):
            result["data"] = result["data"].split("Traceback")[0] + result["data"].strip().splitlines()[-1]
        return result
    if isinstance(rendered, (list, tuple)):
        return [normalised(item) for item in rendered]
    return rendered


@pytest.fixture(scope="module")
def metaflow_cards():
    return pytest.importorskip("metaflow.cards")


@pytest.mark.parametrize("case", CASES)
def test_components_render_as_metaflows(case, metaflow_cards):
    theirs = CASES[case](metaflow_cards).render()
    mine = CASES[case](ours).render()
    assert normalised(mine) == normalised(theirs)
    json.dumps(mine)


def test_vega_chart_leaves_the_callers_spec_alone():
    spec = bar_spec()
    ours.VegaChart(copy.deepcopy(spec)).render()
    given = bar_spec()
    ours.VegaChart(given).render()
    assert given == spec


@pytest.mark.parametrize("arguments", [dict(value=None), dict(value=[1]), dict(value="x" * 101), dict(value=" "),
                                       dict(value=1e16), dict(value=1, title=3), dict(value=1, title=" "),
                                       dict(value=1, subtitle="s" * 301), dict(value=1, theme="not a class"),
                                       dict(value=1, change_indicator="c" * 201)])
def test_value_box_refuses_what_metaflows_refuses(arguments, metaflow_cards):
    with pytest.raises(Exception) as theirs:
        metaflow_cards.ValueBox(**arguments)
    with pytest.raises(type(theirs.value), match=re.escape(str(theirs.value))):
        ours.ValueBox(**arguments)


def test_ids_and_updatability(metaflow_cards):
    markdown = ours.Markdown("x")
    markdown.component_id = "mine"
    assert markdown.render()["id"] == "mine" and markdown.id == "mine"
    with pytest.raises(TypeError):
        markdown.component_id = 5
    for name in [n for n in ours.__all__ if isinstance(getattr(ours, n), type) and
                 issubclass(getattr(ours, n), ours.MetaflowCardComponent)]:
        assert getattr(ours, name).REALTIME_UPDATABLE == getattr(metaflow_cards, name).REALTIME_UPDATABLE, name
    assert ours.Image(png()).REALTIME_UPDATABLE is False
    assert ours.Table.from_dataframe(dataframe()).REALTIME_UPDATABLE is False


# ---- a broken component, and the card's HTML ----

class Broken(ours.MetaflowCardComponent):
    """A user's own component whose render raises."""

    def render(self):
        raise RuntimeError("this component is broken")


def test_a_component_that_raises_renders_as_an_error_and_the_card_still_renders():
    shown = [rendered(component) for component in (ours.Markdown("# Before"), Broken(), ours.Markdown("after"))]
    assert shown[1]["type"] == "log"
    assert shown[1]["data"].startswith("Render failed of component named `Broken`")
    assert "RuntimeError: this component is broken" in shown[1]["data"]
    html = card_html(shown, title="Broken", card_type="blank")
    assert html.index("Before") < html.index("this component is broken") < html.index("after")
    assert 'class="error-box"' in html


def test_a_chart_that_cannot_be_drawn_shows_an_error_and_the_card_still_renders():
    html = card_html([rendered(ours.VegaChart({"mark": "no such mark"})), rendered(ours.Markdown("still here"))],
                     title="Chart", card_type="blank")
    assert "This chart cannot be drawn" in html and "still here" in html


def every_component() -> list:
    """The components of card_pictures.EVERY_COMPONENT_STEP, collected by a stand-in for current.card."""
    collected = []
    stand_in = types.SimpleNamespace(card=types.SimpleNamespace(extend=collected.extend))
    exec(textwrap.dedent(EVERY_COMPONENT_STEP), {"current": stand_in})
    return collected


def test_the_card_is_one_self_contained_document():
    html = card_html([rendered(component) for component in every_component()], title="Every component",
                     card_type="blank", task={"pathspec": "F/1/start/2", "started_at": "2024-01-01T00:00:00",
                                              "finished_at": "2024-01-01T00:00:05"}, live=True)
    assert html.startswith("<!DOCTYPE html>") and html.count("<html") == 1 and html.rstrip().endswith("</html>")
    lowered = html.lower()
    for forbidden in ("http://", "https://", "<script", 'src="http', "<link", "@import", "url("):
        assert forbidden not in lowered, forbidden
    assert '<meta name="flow-triggers-card" content="blank">' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "updating…" in html and "F/1/start/2" in html
    assert 'src="data:image/png;base64,' in html and 'src="data:image/svg+xml;base64,' in html
    assert "<progress" in html and "<table" in html
    assert "updating…" not in card_html([], title="Done", card_type="blank")


def test_markdown_images_from_elsewhere_are_not_loaded():
    html = card_html([rendered(ours.Markdown("![a remote picture](http://example.com/p.png) [link](#x)"))],
                     title="T", card_type="blank")
    assert "example.com" not in html and "a remote picture" in html


def test_the_card_in_a_browser_offline(tmp_path):
    """The renderer's card of every component, in headless Chromium with every request but the file refused."""
    path = tmp_path / "card.html"
    path.write_text(card_html([rendered(component) for component in every_component()], title="Every component",
                              card_type="blank"), encoding="utf-8")
    screenshot = check_card_file_offline(path)
    if os.environ.get("FLOW_TRIGGERS_SCREENSHOTS") == "1":
        (REPO / "docs" / "cards-components.png").write_bytes(screenshot)


# ---- the default card ----

def load_flow(tmp_path):
    from conftest import import_file
    path = tmp_path / "card_flow.py"
    path.write_text('''
from airflow_flow_triggers import FlowSpec, step


class CardFlow(FlowSpec):
    """A flow with a split."""

    @step
    def start(self):
        self.next(self.left, self.right)

    @step
    def left(self):
        self.next(self.join)

    @step
    def right(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
''')
    return import_file(path, "card_flow").CardFlow


def deep(levels: int) -> dict:
    value: dict = {"leaf": 1}
    for level in range(levels):
        value = {f"level{level}": value, "sibling": list(range(50))}
    return value


def test_the_default_card_truncates_what_it_shows(tmp_path):
    """100 artifacts, among them 50 MB of bytes, a dict 500 deep and a 1 MB string, each shown truncated as Metaflow
    shows it (what it costs: bench/cards.py)."""
    from airflow_flow_triggers.flows.graph import flow_graph
    graph = flow_graph(load_flow(tmp_path)).info()
    artifacts = {f"artifact_{i}": {"i": i, "values": list(range(i))} for i in range(96)}
    artifacts.update(huge=b"\x01" * (50 * 1024 * 1024), deep=deep(500), text="t" * 1_000_000, image=png())
    components = default_card_components(pathspec="CardFlow/1/left/2", step="left", parameters={"alpha": 0.5},
                                         artifacts=artifacts, graph=graph, started_at="2024-01-01T10:00:00",
                                         finished_at="2024-01-01T10:01:30")
    html = card_html(components, title="CardFlow/1/left/2", card_type="default")
    assert len(html) < 1_000_000
    shown = {item["name"]: item for section in components if section.get("title") == "Artifacts"
             for item in section["contents"][0]["data"]}
    assert len(shown) == 100
    assert shown["huge"]["data"] == repr(b"\x01" * 48)[:48] + "..." + repr(b"\x01" * 49)[-49:]
    assert shown["deep"]["data"].startswith("{'level499': {'level498': {'level497': {...}")
    assert len(shown["text"]["data"]) <= 110 and "..." in shown["text"]["data"]
    assert "0:01:30" in html and "alpha" in html and "Image Data" in html
    dag = next(section for section in components if section.get("title") == "DAG")["contents"][0]
    assert set(dag["steps"]) == {"start", "left", "right", "join", "end"} and dag["current"] == "left"
    for step in ("start", "left", "right", "join", "end"):
        assert f'data-step="{step}"' in html
    assert 'class="dag-step current" data-step="left"' in html
