"""@card on local runs: what a card holds against Metaflow 2.19 as the oracle (the same flow, its import line
changed), current.card's rules, a card that fails or times out never failing its task, refresh() storing the card
while the step runs, get_cards() and the `card` commands."""
import base64
import json
import re
import subprocess
import sys

import pytest
from card_pictures import EVERY_COMPONENT_STEP, check_card_file_offline
from conftest import REPO
from test_step_semantics import run

from airflow_flow_triggers import card
from airflow_flow_triggers.errors import FlowDefinitionError
from airflow_flow_triggers.runtime.store import ArtifactStore

CARDS_FLOW = '''
from metaflow import FlowSpec, Parameter, card, current, step
from metaflow.cards import Markdown, Table, ProgressBar, Artifact, JSONViewer, YAMLViewer, ValueBox


class ReportFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5)

    @card(type="blank", id="report")
    @card
    @step
    def start(self):
        self.scores = {"a": 1, "b": 2}
        current.card["report"].append(Markdown("# Scores"))
        current.card["report"].append(Table([[1, "one"], [2, "two"]], headers=["n", "name"]))
        current.card["report"].append(ProgressBar(max=10, label="done", value=4))
        current.card["report"].append(Artifact(self.scores, name="scores"))
        current.card["report"].append(JSONViewer({"k": [1, 2]}))
        current.card["report"].append(YAMLViewer({"k": [1, 2]}))
        current.card["report"].append(ValueBox(title="Accuracy", value=0.93))
        current.card.append(Markdown("on the default card"))
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ReportFlow()
'''

# Metaflow's card HTML holds its data as base64 JSON; the components a user added are the dicts of these types
USER_TYPES = {"markdown", "table", "progressBar", "artifacts", "jsonViewer", "yamlViewer", "valueBox", "image",
              "vegaChart", "log", "error", "pythonCode"}

METAFLOW_CARDS = '''
import base64, json, re, sys
from metaflow import Flow, namespace
from metaflow.cards import get_cards
namespace(None)
task = Flow("ReportFlow").latest_run["start"].task
print(json.dumps([[card.id, card.type, re.search(r'__MF_DATA__\\["[^"]*"\\] = "([^"]*)"', card.get())[1]]
                  for card in get_cards(task)]))
'''


def user_components(tree) -> list[dict]:
    """The components of the USER_TYPES in a card's data, in order, wherever Metaflow nests them; a component's
    random id (`markdown_3fc9ef`) as its kind (`markdown`)."""
    found = []
    if isinstance(tree, dict):
        if tree.get("type") in USER_TYPES:
            return [{**tree, "id": re.sub(r"_[0-9a-f]{6}$", "", str(tree.get("id")))}]
        for value in tree.values():
            found += user_components(value)
    elif isinstance(tree, list):
        for value in tree:
            found += user_components(value)
    return found


def test_a_cards_components_are_metaflows(tmp_path):
    ours, theirs = run("ours", CARDS_FLOW, tmp_path, "run"), run("metaflow", CARDS_FLOW, tmp_path, "run")
    assert ours.returncode == 0 == theirs.returncode, (ours.stderr, theirs.stderr)
    reader = tmp_path / "metaflow" / "read_cards.py"
    reader.write_text(METAFLOW_CARDS)
    env = {"PATH": f"{sys.executable.rsplit('/', 1)[0]}:/usr/bin:/bin", "HOME": str(tmp_path / "metaflow"),
           "USER": "alice", "METAFLOW_USER": "alice"}
    listed = subprocess.run([sys.executable, str(reader)], cwd=tmp_path / "metaflow", env=env, capture_output=True,
                            text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    metaflow_cards = {card_id: user_components(json.loads(base64.b64decode(data)))
                      for card_id, _, data in json.loads(listed.stdout)}

    from airflow_flow_triggers import Flow, get_cards
    store = ArtifactStore(f"file://{tmp_path}/ours/airflow_home/flow_triggers/artifacts")
    task = Flow("ReportFlow", store=store, _namespace_check=False).latest_run["start"].task
    cards = get_cards(task)
    assert [(c.type, c.id) for c in cards] == [("blank", "report"), ("default", None)]     # as written, top first
    ours_cards = {c.id: user_components(c.get_data()["components"]) for c in cards}
    assert ours_cards["report"] == metaflow_cards["report"]
    assert [c for c in ours_cards[None] if c["type"] == "markdown"] == \
        [c for c in metaflow_cards[None] if c["type"] == "markdown"]
    default_html = cards[1].html
    for shown in ("alpha", "0.5", "scores", "start", "end", "on the default card"):
        assert shown in default_html, shown


STEP_CARDS = '''
import time
from airflow_flow_triggers import FlowSpec, card, current, get_cards, step
from airflow_flow_triggers.cards import Markdown, ProgressBar, MetaflowCardComponent


class Broken(MetaflowCardComponent):
    def render(self):
        raise ValueError("this component cannot render")


class Slow(MetaflowCardComponent):
    def render(self):
        time.sleep(30)
        return {"type": "markdown", "source": "late"}


class CardRulesFlow(FlowSpec):
    @card(type="blank")
    @step
    def start(self):
        bar = ProgressBar(max=3, label="steps")
        current.card.append(bar)
        self.seen = []
        for value in (1, 2):
            bar.update(value)
            current.card.refresh(force=True)
            data = get_cards(current.pathspec)[0].get_data()
            self.seen.append((data["final"], [c.get("value") for c in data["components"]]))
        current.card.append(Broken())
        self.next(self.slow)

    @card(type="blank", timeout=2)
    @step
    def slow(self):
        current.card.append(Slow())
        self.next(self.ambiguous)

    @card(type="blank", id="one")
    @card(type="blank", id="two")
    @step
    def ambiguous(self):
        current.card.append(Markdown("goes nowhere"))       # two cards with ids: which one is not told
        current.card["two"].append(Markdown("second card"))
        self.next(self.end)

    @step
    def end(self):
        try:
            current.card
        except AttributeError as error:
            self.without = str(error)


if __name__ == "__main__":
    CardRulesFlow()
'''


def test_cards_by_metaflows_rules_never_fail_the_task(tmp_path):
    result = run("ours", STEP_CARDS, tmp_path, "run")
    assert result.returncode == 0, result.stdout + result.stderr
    from airflow_flow_triggers import Flow, get_cards
    store = ArtifactStore(f"file://{tmp_path}/ours/airflow_home/flow_triggers/artifacts")
    flow_run = Flow("CardRulesFlow", store=store, _namespace_check=False).latest_run
    assert flow_run.successful
    start = flow_run["start"].task
    assert start.data.seen == [(False, [1]), (False, [2])]             # refresh() stored it while the step ran
    final = get_cards(start)[0]
    assert final.get_data()["final"] is True
    assert "this component cannot render" in final.html and "steps" in final.html      # the rest still shows
    slow = get_cards(flow_run["slow"].task)[0]
    assert "took longer than @card(timeout=2) seconds" in slow.html
    assert "could not be rendered" in result.stdout + result.stderr
    one, two = get_cards(flow_run["ambiguous"].task)
    assert (one.id, two.id) == ("one", "two") and "second card" in two.html and "goes nowhere" not in one.html
    assert "`current.card.append` cannot disambiguate" in result.stdout + result.stderr
    assert "current.card is only there in a step with @card" in flow_run["end"].task.data.without
    assert len(get_cards(start, id="nothing")) == 0


def test_card_commands_list_get_and_view(tmp_path):
    result = run("ours", CARDS_FLOW, tmp_path, "run")
    assert result.returncode == 0, result.stderr
    run_id = re.search(r"run-id (\d+)", result.stdout)[1]
    folder = tmp_path / "ours"

    def card(*args, **env):
        return subprocess.run([sys.executable, "flow.py", "card", *args], cwd=folder, capture_output=True,
                              text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(folder),
                                                            "USER": "alice", "METAFLOW_USER": "alice",
                                                            "AIRFLOW_HOME": str(folder / "airflow_home"), **env})

    listed = card("list", f"{run_id}/start", "--as-json")
    assert listed.returncode == 0, listed.stderr
    assert [(c["type"], c["id"]) for c in json.loads(listed.stdout)["cards"]] == [("blank", "report"),
                                                                                 ("default", None)]
    got = card("get", "start", "--id", "report", str(tmp_path / "report.html"))      # STEP: the latest run
    assert got.returncode == 0, got.stderr
    assert "Scores" in (tmp_path / "report.html").read_text()
    opener = tmp_path / "browser.sh"
    opener.write_text(f"#!/bin/sh\necho \"$1\" > {tmp_path}/opened\n")
    opener.chmod(0o755)
    viewed = card("view", f"{run_id}/start", "--type", "blank", BROWSER=str(opener))
    assert viewed.returncode == 0, viewed.stderr
    opened = (tmp_path / "opened").read_text().strip()
    assert opened.startswith("file://") and "Scores" in open(opened[len("file://"):]).read()
    missing = card("get", f"{run_id}/end")
    assert missing.returncode == 1 and missing.stderr.strip().endswith(
        f"Card not found in datastore: task ReportFlow/{run_id}/end/2 has no card; list its cards with `card list "
        f"{run_id}/end/2`.")


USERS_CARDS = '''
import json
from airflow_flow_triggers import FlowSpec, card, current, step
from airflow_flow_triggers.cards import MetaflowCard, MetaflowCardComponent


class Words(MetaflowCardComponent):
    def __init__(self, text):
        self.text = text

    def render(self):
        return self.text


class SummaryCard(MetaflowCard):
    type = "summary"
    ALLOW_USER_COMPONENTS = True

    def __init__(self, options=None, components=None, **kwargs):
        self.heading = (options or {}).get("heading", "Summary")
        self.components = components or []

    def render(self, task):
        return f"<h1>{self.heading}</h1><p>{task.pathspec} rows={task['rows'].data}</p>" + "|".join(self.components)


class LiveCard(MetaflowCard):
    type = "live"
    RUNTIME_UPDATABLE = True

    def render(self, task):
        return f"final {json.dumps(self.runtime_data['user'])}"

    def render_runtime(self, task, data):
        return f"running {json.dumps(data['user'])}"


class BrokenCard(MetaflowCard):
    type = "broken"

    def render(self, task):
        raise RuntimeError("this card type is broken")


class UsersCardsFlow(FlowSpec):
    @card(type="broken")
    @card(type="live", id="live")
    @card(type="summary", options={"heading": "Rows"})
    @step
    def start(self):
        self.rows = 42
        current.card.append(Words("first"))
        current.card.append(Words("second"))
        current.card["live"].refresh({"done": 1}, force=True)
        from airflow_flow_triggers import get_cards
        self.while_running = get_cards(current.pathspec, id="live")[0].html
        current.card["live"].refresh({"done": 2}, force=True)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    UsersCardsFlow()
'''


def test_a_card_type_of_the_users_renders_the_finished_task(tmp_path):
    """A MetaflowCard subclass defined before the flow is a card type: render(task) gets the finished task's client
    Task, ALLOW_USER_COMPONENTS makes current.card.append add to it, RUNTIME_UPDATABLE renders it on refresh(data);
    one that raises is a card showing the error, and the task succeeds."""
    result = run("ours", USERS_CARDS, tmp_path, "run")
    assert result.returncode == 0, result.stdout + result.stderr
    from airflow_flow_triggers import Flow, get_cards
    store = ArtifactStore(f"file://{tmp_path}/ours/airflow_home/flow_triggers/artifacts")
    start = Flow("UsersCardsFlow", store=store, _namespace_check=False).latest_run["start"].task
    broken, live, summary = get_cards(start)                # as written, top first
    assert (broken.type, live.type, summary.type) == ("broken", "live", "summary")
    assert summary.html == f"<h1>Rows</h1><p>{start.pathspec} rows=42</p>first|second"
    assert start.data.while_running == 'running {"done": 1}' and live.html == 'final {"done": 2}'
    assert "this card type is broken" in broken.html


def test_a_local_runs_card_of_every_component_in_a_browser(tmp_path):
    """A local run's card of every component, read with `card get` and opened in headless Chromium offline."""
    source = ("from airflow_flow_triggers import FlowSpec, card, current, step\n\n\n"
              "class EveryComponentFlow(FlowSpec):\n    @card(type='blank')\n    @step\n    def start(self):"
              + EVERY_COMPONENT_STEP + "        self.next(self.end)\n\n    @step\n    def end(self):\n"
              "        pass\n\n\nif __name__ == '__main__':\n    EveryComponentFlow()\n")
    assert run("ours", source, tmp_path, "run").returncode == 0
    folder, page_file = tmp_path / "ours", tmp_path / "card.html"
    got = subprocess.run([sys.executable, "flow.py", "card", "get", "start", str(page_file)], cwd=folder,
                         capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(folder), "USER": "alice", "METAFLOW_USER": "alice",
                              "AIRFLOW_HOME": str(folder / "airflow_home")})
    assert got.returncode == 0, got.stderr
    check_card_file_offline(page_file)


def test_the_example_flow_makes_its_two_cards(tmp_path):
    """dags/card_report.py, as docs/cards.md shows it: a default card with the live ProgressBar, and the metrics
    card with its table, chart and figure."""
    source = (REPO / "dags" / "card_report.py").read_text()
    assert run("ours", source, tmp_path, "run", "--epochs", "3").returncode == 0
    from airflow_flow_triggers import Flow, get_cards
    store = ArtifactStore(f"file://{tmp_path}/ours/airflow_home/flow_triggers/artifacts")
    train = Flow("CardReportFlow", store=store, _namespace_check=False).latest_run["train"].task
    default, metrics = get_cards(train)
    assert (default.type, metrics.id) == ("default", "metrics")
    assert "Epochs" in default.html and "3 / 3" in default.html and "history" in default.html
    data = [component["type"] for component in metrics.get_data()["components"]]
    assert data == ["markdown", "table", "vegaChart", "image"] and "Training report" in metrics.html


@pytest.mark.parametrize("arguments, message", [
    ({"type": "fancy"}, "@card(type='fancy') names no card type: use 'default', 'blank'"),
    ({"id": "a-b"}, "@card(id='a-b') needs letters, digits and underscores only"),
    ({"timeout": 0}, "@card(timeout=0) needs a positive number of seconds"),
])
def test_bad_card_arguments_are_one_sentence(arguments, message):
    with pytest.raises(FlowDefinitionError, match=re.escape(message)):
        card(**arguments)
