"""Cards (@card) on a real Airflow: the "Card" extra link of a step task, the plugin's card viewer in Chromium,
the cards' sandbox (a card's script never runs, nor reaches the viewer's session), per-DAG visibility, and a
ProgressBar refreshed by `current.card.refresh()` seen changing while its task runs.

A module-scoped Airflow of its own runs the simple auth manager through tests/restricted_auth.py: alice is an
admin, bob may read only branch test.new_model's DAGs, so not alice's CardFlow.
"""
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from card_pictures import CHROMIUM, CHROMIUM_ARGS, EVERY_COMPONENT_STEP, check_every_component
from conftest import REPO, restricted_airflow

from airflow_flow_triggers.orchestration.card_link import CARD_PAGES
from airflow_flow_triggers.plugin.urls import URL_PREFIX
from airflow_flow_triggers.runtime.card_files import CardFile, read_card_html, task_cards, write_card

pytestmark = pytest.mark.e2e
DOCS = REPO / "docs"
DAG_ID = "cards_demo.user.alice.CardFlow"
TICKS = 8

FLOW = f'''
import time
from airflow_flow_triggers import FlowSpec, build_dag, card, current, project, step
from airflow_flow_triggers.cards import Markdown, ProgressBar, Table


@project(name='cards_demo')
class CardFlow(FlowSpec):
    @card(type='blank')
    @step
    def start(self):
        current.card.append(Table([['alpha-cell', 1], ['beta-cell', 2]], headers=['name', 'n']))
        current.card.append(Markdown("<script>document.title = 'markdown-ran'</script> **bold-text**"))
        self.items = [10, 11, 12]
        self.next(self.progress)

    @card(type='blank', refresh_interval=0.5)
    @step
    def progress(self):
        bar = ProgressBar(max={TICKS}, label='ticks')
        current.card.append(bar)
        for i in range({TICKS}):
            bar.update(i + 1, metadata=f'tick-{{i + 1}}')
            current.card.refresh()
            time.sleep(1.5)
        self.next(self.each, foreach='items')

    @card(type='blank')
    @step
    def each(self):
        current.card.append(Markdown(f'item-{{self.input}}'))
        self.next(self.join)

    @card
    @step
    def join(self, inputs):
        self.merge_artifacts(inputs)
        self.next(self.every)

    @card(type='blank')
    @step
    def every(self):{EVERY_COMPONENT_STEP}        self.next(self.end)

    @step
    def end(self):
        pass


dag = build_dag(CardFlow, user='alice')
'''

HOSTILE = """<!doctype html><html><head><title>hostile-card</title></head><body>
<h1 id="shown">hostile-card-body</h1>
<script>
  document.title = 'card-script-ran';
  new Image().src = '/record?cookie=' + encodeURIComponent(document.cookie);
  try { localStorage.setItem('stolen', '1'); fetch('/record?storage=' + localStorage.length); } catch (e) {}
  try { parent.document.title = 'parent-owned'; fetch('/record?parent=1'); } catch (e) {}
  fetch('/api/v2/dags').then(r => r.text()).then(t => fetch('/record?api=' + t.length));
</script>
<img src="/record?img=1">
</body></html>"""


@pytest.fixture(scope="module")
def cards_airflow(tmp_path_factory):
    """The restricted Airflow with CardFlow deployed and one run of it started (not waited for)."""
    harness = restricted_airflow(tmp_path_factory.mktemp("cards_airflow"))
    try:
        harness.start()
        harness.drop("cards_demo/user.alice/card_flow.py", FLOW)
        harness.wait_for_dag(DAG_ID)
        harness.run_id = harness.post_run(DAG_ID)
        yield harness
    finally:
        harness.stop()


@pytest.fixture(scope="module")
def finished(cards_airflow):
    """The run, finished."""
    assert cards_airflow.wait_for_run(DAG_ID, cards_airflow.run_id, timeout=300)["state"] == "success"
    return cards_airflow


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def signed_in(browser, airflow, user: str = "alice"):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": "_token", "value": airflow.login(user), "url": airflow.url}])
    return context


def task_path(airflow, step: str):
    from airflow_flow_triggers.orchestration.store_tasks import NOT_MAPPED, store_task_id
    store = airflow.store()
    return store.task_path(DAG_ID, airflow.run_id, step, store_task_id(store, DAG_ID, airflow.run_id, step, NOT_MAPPED))


def cards_url(airflow, step: str, map_index: int = -1, then: str = "", api: bool = False) -> str:
    quoted = urllib.parse.quote(airflow.run_id, safe="")
    query = f"?map_index={map_index}" if map_index >= 0 else ""
    return f"{URL_PREFIX}{'/api' if api else ''}/cards/{DAG_ID}/{quoted}/{step}{then}{query}"


def fetch(airflow, path: str, token: str) -> tuple[int, object, bytes]:
    request = urllib.request.Request(f"{airflow.url}{path}", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def ticks(html: str) -> set[int]:
    return {int(n) for n in re.findall(r"tick-(\d+)", html)}


def test_a_progress_bar_is_seen_changing_while_its_task_runs(cards_airflow, browser):
    """While `progress` runs, the list's etag changes with the card, and the viewer page in Chromium reloads the
    card's frame: two different progress values seen in each."""
    airflow, alice = cards_airflow, cards_airflow.login("alice")

    def running_card():
        status, _, body = fetch(airflow, cards_url(airflow, "progress", api=True), alice)
        listing = json.loads(body) if status == 200 else {}
        return listing if listing.get("state") == "running" and listing.get("cards") else None

    airflow.wait_until(running_card, 240, "task progress to run with its card", interval=0.3)
    context = signed_in(browser, airflow)
    page = context.new_page()
    page.goto(f"{airflow.url}{cards_url(airflow, 'progress')}")
    etags, from_api, in_browser = set(), set(), set()
    deadline = time.monotonic() + TICKS * 1.5 + 30
    while time.monotonic() < deadline and (len(from_api) < 2 or len(in_browser) < 2):
        listing = running_card()
        if listing is None:
            break
        etags.add(listing["cards"][0]["etag"])
        from_api |= ticks(fetch(airflow, listing["cards"][0]["url"], alice)[2].decode())
        frame = next((f for f in page.frames if f.url.split("?")[0].endswith("/raw")), None)
        if frame is not None:
            try:
                in_browser |= ticks(frame.content())
            except Exception:       # the frame is being reloaded
                pass
        time.sleep(0.5)
    if os.environ.get("FLOW_TRIGGERS_SCREENSHOTS") == "1":     # docs/cards.md's picture of the viewer, live
        page.set_viewport_size({"width": 1200, "height": 800})
        page.frame_locator("iframe.card").locator("progress").wait_for(timeout=10000)
        page.screenshot(path=str(DOCS / "cards-airflow.png"))
    context.close()
    assert len(etags) >= 2 and len(from_api) >= 2, (etags, from_api)
    assert len(in_browser) >= 2, f"the viewer showed only ticks {in_browser} while the task ran"


def test_the_card_link_opens_the_card_in_a_browser(finished, browser):
    airflow = finished
    links = airflow.api("GET", f"dags/{DAG_ID}/dagRuns/{airflow.run_id}/taskInstances/start/links")["extra_links"]
    assert links["Card"] == f"{airflow.url}{cards_url(airflow, 'start')}"
    assert airflow.api("GET", f"dags/{DAG_ID}/dagRuns/{airflow.run_id}/taskInstances/end/links")["extra_links"] == \
        {}                                          # no @card: no link
    mapped = airflow.api("GET", f"dags/{DAG_ID}/dagRuns/{airflow.run_id}/taskInstances/each/links?map_index=1")
    assert mapped["extra_links"]["Card"].endswith(cards_url(airflow, "each", 1))

    context = signed_in(browser, airflow)
    page = context.new_page()
    page.goto(links["Card"])
    frame = page.frame_locator("iframe.card")
    assert frame.locator("text=alpha-cell").count() == 1 and frame.locator("text=beta-cell").count() == 1
    assert page.locator("iframe.card").get_attribute("sandbox") == ""
    assert page.title() != "markdown-ran"
    page.goto(mapped["extra_links"]["Card"])       # map index 1: the foreach's second branch
    assert page.frame_locator("iframe.card").locator("text=item-11").count() == 1
    context.close()
    assert "<script>document.title" not in read_card_html(task_path(airflow, "start"),
                                                          task_cards(task_path(airflow, "start"))[0])


def test_a_cards_script_never_runs(finished, browser):
    """A card holding a script (written into the store by hand: the renderer writes none) shown in the viewer and
    opened on its own: the script does not run, so it reads no cookie or storage, touches no parent and calls
    no API with the viewer's session."""
    airflow = finished
    write_card(task_path(airflow, "end"), CardFile(0, "blank", None), HOSTILE, {"type": "blank", "components": []})
    status, headers, _ = fetch(airflow, cards_url(airflow, "end", then="/0/raw"), airflow.login("alice"))
    assert status == 200 and headers["Content-Security-Policy"].startswith("sandbox; default-src 'none'")
    assert (headers["X-Content-Type-Options"], headers["Referrer-Policy"], headers["Cache-Control"]) == \
        ("nosniff", "no-referrer", "no-store")

    context = signed_in(browser, airflow)
    recorded, api_calls = [], []
    context.route("**/record**", lambda route: (recorded.append(route.request.url), route.fulfill(body="")))
    context.on("request", lambda request: api_calls.append(request.url) if "/api/v2" in request.url else None)
    page = context.new_page()
    page.goto(f"{airflow.url}{cards_url(airflow, 'end')}")
    assert page.frame_locator("iframe.card").locator("#shown").inner_text() == "hostile-card-body"
    page.goto(f"{airflow.url}{cards_url(airflow, 'end', then='/0/raw')}")      # the card on its own
    assert page.locator("#shown").inner_text() == "hostile-card-body"
    page.wait_for_timeout(1500)
    assert page.title() == "hostile-card"
    context.close()
    assert recorded == [] and api_calls == []


def test_a_user_who_cannot_read_the_dag_gets_404(finished):
    airflow, bob, alice = finished, finished.login("bob"), finished.login("alice")
    for path in (cards_url(finished, "start"), cards_url(finished, "start", api=True),
                 cards_url(finished, "start", then="/0/raw")):
        assert fetch(airflow, path, bob)[0] == 404, path
        assert fetch(airflow, path, alice)[0] == 200, path
    assert fetch(airflow, cards_url(finished, "start", then="/7/raw"), alice)[0] == 404
    assert fetch(airflow, f"{URL_PREFIX}/api/cards/{DAG_ID}/..%2F..%2Fother/start", alice)[0] == 404
    assert fetch(airflow, cards_url(finished, "nosuchstep", api=True), alice)[0] == 404
    listing = json.loads(fetch(airflow, cards_url(finished, "each", 2, api=True), alice)[2])
    assert (listing["state"], [c["type"] for c in listing["cards"]]) == ("success", ["blank"])
    assert CARD_PAGES == f"{URL_PREFIX}/cards"     # the link and the plugin agree on where card pages are


def test_the_branch_page_lists_the_last_runs_cards(finished, browser):
    airflow = finished
    view = airflow.request("GET", f"{URL_PREFIX}/api/projects/cards_demo/branches/user.alice",
                           token=airflow.login("alice"))
    [deployment] = view["deployments"]
    listed = [(c["task_id"], c["map_index"]) for c in deployment["last_run"]["cards"]]
    assert set(listed) >= {("start", -1), ("progress", -1), ("each", 0), ("each", 1), ("each", 2)}
    context = signed_in(browser, airflow)
    page = context.new_page()
    page.goto(f"{airflow.url}{URL_PREFIX}/projects/cards_demo/branches/user.alice")
    page.locator("a.card-link[data-task-id='start']").click()
    assert page.frame_locator("iframe.card").locator("text=alpha-cell").count() == 1
    context.close()


def test_map_indexes_name_foreach_branches_of_the_store(tmp_path):
    """Map index -> the store's task id, from the upstream tasks' records only: one foreach deep, two deep
    (flattened outer branch by outer branch), and the inner join (one task per outer branch)."""
    from airflow_flow_triggers.orchestration.store_tasks import store_task_id
    from airflow_flow_triggers.runtime.store import ArtifactStore, write_json
    store = ArtifactStore(str(tmp_path))
    run = store.run_path("F", "r1")
    graph = {"start": {"type": "foreach", "next": ["outer"]}, "outer": {"type": "foreach", "next": ["inner"]},
             "inner": {"type": "linear", "next": ["inner_join"]}, "inner_join": {"type": "join", "next": ["join"]},
             "join": {"type": "join", "next": ["end"]}, "end": {"type": "end", "next": []}}
    write_json(run / "_run.json", {"graph": graph})
    write_json(run / "start" / "0" / "_task.json", {"foreach_stack": [], "foreach_count": 2})
    for outer, count in ((0, 3), (1, 11)):
        write_json(run / "outer" / str(outer) / "_task.json", {"foreach_stack": [{"index": outer}],
                                                                "foreach_count": count})
        for inner in range(count):
            write_json(run / "inner" / f"{outer}-{inner}" / "_task.json",
                       {"foreach_stack": [{"index": outer}, {"index": inner}]})

    def task_id(step, map_index):
        return store_task_id(store, "F", "r1", step, map_index)

    # each id starts with the step's number in the run's graph (start 1, outer 2, inner 3, ...)
    assert [task_id("outer", i) for i in (0, 1, 2)] == ["2-0", "2-1", None]
    assert [task_id("inner", i) for i in (0, 2, 3, 4, 13, 14)] == ["3-0-0", "3-0-2", "3-1-0", "3-1-1", "3-1-10", None]
    assert [task_id("inner_join", i) for i in (0, 1)] == ["4-0", "4-1"] and task_id("join", -1) == "5"
    assert task_id("inner", 0) is not None and store_task_id(store, "F", "other_run", "inner", 0) is None


def test_the_client_reads_an_airflow_runs_cards_as_a_local_runs(finished):
    """get_cards() on a task of the Airflow run, from another machine's point of view: the store only."""
    from airflow_flow_triggers import Task, get_cards
    joined = get_cards(Task(f"CardFlow/{finished.run_id}/join/4", store=finished.store(), _namespace_check=False))
    assert [(card.type, card.id) for card in joined] == [("default", None)]
    page = joined[0].html
    for shown in ("items", "[10, 11, 12]", "progress", "each", "join", "CardFlow"):
        assert shown in page, shown
    started = get_cards(Task(f"CardFlow/{finished.run_id}/start/1", store=finished.store(), _namespace_check=False))
    assert "alpha-cell" in started[0].html and started[0].get_data()["final"] is True


def test_every_component_through_the_card_link(finished, browser):
    """The card of every component, opened through the task's Card link: Chromium draws the table's cells, the
    image and the chart's bars inside the viewer's sandboxed frame."""
    airflow = finished
    link = airflow.api("GET", f"dags/{DAG_ID}/dagRuns/{airflow.run_id}/taskInstances/every/links")["extra_links"]
    context = signed_in(browser, airflow)
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.set_viewport_size({"width": 1280, "height": 3200})       # the frame (75% of it) holds the whole card
    page.goto(link["Card"])
    page.wait_for_load_state("load")
    frame = next(f for f in page.frames if f.url.split("?")[0].endswith("/raw"))
    frame.wait_for_load_state("load")
    check_every_component(frame, page.screenshot(full_page=True))
    context.close()

