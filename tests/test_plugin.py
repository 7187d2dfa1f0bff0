"""The Airflow plugin on a real Airflow, behind real auth: the API, per-user visibility, the page in Chromium.

A module-scoped Airflow of its own runs the simple auth manager with users alice (admin) and bob
(viewer), through tests/restricted_auth.py so that bob may read only branch test.new_model's DAGs.
"""
import json
import os
import shutil
import sys
import urllib.error

import pytest
from conftest import REPO, restricted_airflow

pytestmark = pytest.mark.e2e
DAGS = REPO / "dags"
DOCS = REPO / "docs"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def seed(name: str, *build_lines: str) -> str:
    return (DAGS / name).read_text() + "\nfrom airflow_flow_triggers import build_dag\n" + "\n".join(build_lines) + "\n"


PINNED = '''
from airflow_flow_triggers import FlowSpec, step, trigger_on_finish, project, build_dag

@trigger_on_finish(flow='variant_demo.user.alice.FirstProjectFlow')
@project(name='variant_demo')
class PinnedFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

dag = build_dag(PinnedFlow, branch='new_model')
'''


WAITING = '''
from airflow_flow_triggers import FlowSpec, step, trigger_on_finish, project, build_dag

@project(name='variant_demo')
class NeverFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

@trigger_on_finish(flows=['FirstProjectFlow', 'NeverFlow'])
@project(name='variant_demo')
class WaitsFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

never = build_dag(NeverFlow, user='alice')
waits = build_dag(WaitsFlow, user='alice')
'''


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    harness = restricted_airflow(tmp_path_factory.mktemp("secured_airflow"))
    try:
        harness.start()
        for branch_args, folder in (("user='alice'", "user.alice"), ("branch='new_model'", "test.new_model")):
            harness.drop(f"variant_demo/{folder}/first.py", seed("firstproject.py",
                                                                 f"dag = build_dag(FirstProjectFlow, {branch_args})"))
            harness.drop(f"variant_demo/{folder}/second.py", seed("secondproject.py",
                                                                  f"dag = build_dag(SecondProjectFlow, {branch_args})"))
        harness.drop("variant_demo/test.new_model/pinned.py", PINNED)
        harness.drop("variant_demo/user.alice/waiting.py", WAITING)     # FirstProjectFlow's finish waits for NeverFlow
        harness.drop("firstflow.py", seed("firstflow.py", "dag = build_dag(FirstFlow)"))
        for dag_id in ("variant_demo.user.alice.FirstProjectFlow", "variant_demo.user.alice.SecondProjectFlow",
                       "variant_demo.test.new_model.FirstProjectFlow", "variant_demo.test.new_model.SecondProjectFlow",
                       "variant_demo.test.new_model.PinnedFlow", "FirstFlow", "variant_demo.user.alice.WaitsFlow",
                       "variant_demo.user.alice.WaitsFlow.wait_for_all"):
            harness.wait_for_dag(dag_id)
        run_id = harness.post_run("variant_demo.user.alice.FirstProjectFlow")
        harness.wait_for_run("variant_demo.user.alice.FirstProjectFlow", run_id)
        harness.wait_for_runs("variant_demo.user.alice.SecondProjectFlow", 1)
        harness.wait_for_runs("variant_demo.test.new_model.PinnedFlow", 1)
        harness.wait_for_runs("variant_demo.user.alice.WaitsFlow.wait_for_all", 1)
        harness.quiet()
        yield harness
    finally:
        harness.stop()


def plugin_api(airflow, path, token):
    return airflow.request("GET", f"/flow-triggers/api{path}", token=token)


def test_airflow_lists_the_plugin(secured):
    listed = json.loads(secured.cli("plugins", "--output", "json").stdout)
    [plugin] = [p for p in listed if p["name"] == "flow_triggers"]
    assert "airflow_flow_triggers.plugin" in json.dumps(plugin)
    assert secured.api("GET", "plugins/importErrors")["import_errors"] == []
    [view] = secured.api("GET", "plugins")["plugins"][0]["external_views"] or [None]
    assert view["name"] == "Flow branches" and view["href"] == "/flow-triggers/"


def test_projects_and_branches(secured):
    alice = secured.login("alice")
    assert plugin_api(secured, "/projects", alice) == {
        "projects": [{"name": "variant_demo", "branches": ["test.new_model", "user.alice"]}], "flows": ["FirstFlow"]}
    view = plugin_api(secured, "/projects/variant_demo/branches/user.alice", alice)
    assert (view["project"], view["branch"], view["kind"], view["production"]) == \
        ("variant_demo", "user.alice", "user", False)
    deployments = {d["flow"]: d for d in view["deployments"]}
    assert [d["flow"] for d in view["deployments"]] == ["FirstProjectFlow", "NeverFlow", "SecondProjectFlow",
                                                        "WaitsFlow"]
    first, second = deployments["FirstProjectFlow"], deployments["SecondProjectFlow"]
    assert (first["dag_id"], first["flow"], first["owner"], first["is_paused"]) == \
        ("variant_demo.user.alice.FirstProjectFlow", "FirstProjectFlow", "alice", False)
    assert first["triggers"] == ["variant_demo.test.new_model.PinnedFlow", "variant_demo.user.alice.SecondProjectFlow",
                                 "variant_demo.user.alice.WaitsFlow"]
    assert deployments["WaitsFlow"]["triggered_by"] == ["variant_demo.user.alice.FirstProjectFlow",
                                                        "variant_demo.user.alice.NeverFlow"]
    assert first["cross_branch"] == ["variant_demo.test.new_model.PinnedFlow"]
    assert second["triggered_by"] == ["variant_demo.user.alice.FirstProjectFlow"] and second["cross_branch"] == []
    assert first["last_run"]["state"] == second["last_run"]["state"] == "success"
    assert first["last_finish"]["run_id"] == first["last_run"]["run_id"]
    assert isinstance(first["finish_asset_id"], int)
    assert first["code"] is None                  # a DAG file dropped by hand has no deployment record

    with pytest.raises(urllib.error.HTTPError) as missing:
        plugin_api(secured, "/projects/variant_demo/branches/user.nobody", alice)
    assert missing.value.code == 404
    assert json.loads(missing.value.read())["detail"] == (
        "Project 'variant_demo' has no branch 'user.nobody' with a flow you can read: GET "
        "/flow-triggers/api/projects lists the projects and branches.")


def test_auth_is_airflows(secured):
    for token, status in ((None, 401), ("not-a-jwt", 403)):
        request = urllib.request.Request(f"{secured.url}/flow-triggers/api/projects",
                                         headers={"Authorization": f"Bearer {token}"} if token else {})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == status
    bob = secured.login("bob")                    # may read test.new_model's DAGs only
    assert plugin_api(secured, "/projects", bob) == {
        "projects": [{"name": "variant_demo", "branches": ["test.new_model"]}], "flows": []}
    pinned = plugin_api(secured, "/projects/variant_demo/branches/test.new_model", bob)["deployments"]
    assert [d["flow"] for d in pinned] == ["FirstProjectFlow", "PinnedFlow", "SecondProjectFlow"]
    assert pinned[1]["triggered_by"] == []        # alice's upstream is hidden from bob
    with pytest.raises(urllib.error.HTTPError) as hidden:
        plugin_api(secured, "/projects/variant_demo/branches/user.alice", bob)
    assert hidden.value.code == 404


def test_the_page_in_a_browser(secured):
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            context.add_cookies([{"name": "_token", "value": secured.login("alice"), "url": secured.url}])
            page = context.new_page()
            page.goto(f"{secured.url}/flow-triggers/")
            assert page.locator("h2.project").all_inner_texts() == ["variant_demo"]
            chips = attributes(page, "a.chip[data-branch]", "data-branch", lambda chip: chip.inner_text().split()[0])
            assert {branch: kind.lower() for branch, kind in chips.items()} == {"user.alice": "user",
                                                                                  "test.new_model": "test"}
            assert page.locator("text=FirstFlow").count() == 1        # a flow without a project

            page.locator("a.chip[data-branch='user.alice']").click()
            page.wait_for_selector("#branch")
            assert page.locator("#branch").inner_text() == "user.alice"
            rows = attributes(page, "tr.deployment", "data-dag-id", lambda row: row.locator("td").all_inner_texts())
            first_run = secured.runs("variant_demo.user.alice.FirstProjectFlow")[0]["dag_run_id"]
            assert {dag_id: (cells[0], cells[3].splitlines()) for dag_id, cells in rows.items()} == {
                "variant_demo.user.alice.FirstProjectFlow": ("FirstProjectFlow", ["success", "started by hand"]),
                "variant_demo.user.alice.SecondProjectFlow": ("SecondProjectFlow", [
                    "success", f"started by variant_demo.user.alice.FirstProjectFlow {first_run}"]),
                "variant_demo.user.alice.NeverFlow": ("NeverFlow", ["never ran"]),
                "variant_demo.user.alice.WaitsFlow": ("WaitsFlow", ["never ran"])}
            edges = {(edge.get_attribute("data-upstream"), edge.get_attribute("data-consumer")):
                     edge.get_attribute("data-waiting") for edge in page.locator("tr.edge").all()}
            assert edges[("variant_demo.user.alice.FirstProjectFlow", "variant_demo.user.alice.WaitsFlow")] == "1"
            assert edges[("variant_demo.user.alice.NeverFlow", "variant_demo.user.alice.WaitsFlow")] == "0"
            waiting = page.locator("tr.edge[data-consumer='variant_demo.user.alice.WaitsFlow']"
                                   "[data-upstream='variant_demo.user.alice.FirstProjectFlow'] td").all_inner_texts()
            assert waiting[2] == "1 waiting for the other upstreams"
            nodes = attributes(page, "a.node", "data-dag-id", lambda node: node.get_attribute("data-state"))
            assert nodes == {"variant_demo.user.alice.FirstProjectFlow": "success",
                             "variant_demo.user.alice.SecondProjectFlow": "success",
                             "variant_demo.user.alice.NeverFlow": "none", "variant_demo.user.alice.WaitsFlow": "none",
                             "variant_demo.test.new_model.PinnedFlow": "other-branch"}
            first_node = page.locator("a.node").first.get_attribute("href")
            assert first_node.endswith("/dags/variant_demo.user.alice.FirstProjectFlow")

            page.locator("button[data-trigger='variant_demo.user.alice.SecondProjectFlow']").click()
            page.wait_for_selector("#message:has-text('Started')")
            assert len(secured.runs("variant_demo.user.alice.SecondProjectFlow")) == 2

            page.goto(f"{secured.url}/")                 # Airflow's own UI: the nav entry opens the page inside it
            page.locator("a[href$='plugin/flow-branches']").click()
            inside = page.frame_locator("iframe")
            inside.locator("a.chip[data-branch='user.alice']").click()
            assert inside.locator("#branch").inner_text() == "user.alice"
            inside.locator("a.node[data-state='success']").first.wait_for()
            pictures = os.environ.get("FLOW_TRIGGERS_SCREENSHOTS") == "1"      # `make screenshots` retakes docs'
            page.screenshot(path=str(DOCS / "flow-branches.png") if pictures else None, full_page=True)

            page.goto(f"{secured.url}/assets")
            page.wait_for_selector("text=variant_demo.user.alice.FirstProjectFlow", timeout=30000)
            page.screenshot(path=str(DOCS / "airflow-assets.png") if pictures else None, full_page=True)
        finally:
            browser.close()


def attributes(page, selector: str, key: str, value) -> dict:
    """{element's `key` attribute: value(element)} for every element matching `selector`."""
    return {element.get_attribute(key): value(element) for element in page.locator(selector).all()}


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
