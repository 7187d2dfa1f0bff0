"""The plugin's views assembled from metadata rows: projects, branch kinds, the trigger graph."""
from airflow_flow_triggers.plugin.branches import branch_view, graph_layout, projects_view
from airflow_flow_triggers.plugin.metadata import DagRow, Edge


def row(dag_id, project=None, branch=None, owner="alice"):
    tags = {dag_id.rsplit(".", 1)[-1]} | ({f"project:{project}", f"project_branch:{branch}"} if project else set())
    return DagRow(dag_id, owner, False, frozenset(tags))


def test_projects_sorted_with_flows_without_a_project():
    rows = [row("v.user.alice.A", "v", "user.alice"), row("v.prod.A", "v", "prod"), row("FirstFlow"),
            row("v.test.new_model.A", "v", "test.new_model"), row("w.prod.B", "w", "prod")]
    assert projects_view(rows) == {
        "projects": [{"name": "v", "branches": ["prod", "test.new_model", "user.alice"]},
                     {"name": "w", "branches": ["prod"]}],
        "flows": ["FirstFlow"]}


def test_branch_view_marks_other_branches_and_hides_what_you_cannot_read():
    rows = [row("v.test.x.Up", "v", "test.x", "bob"), row("v.test.x.Down", "v", "test.x", "bob")]
    edges = [Edge("v.test.x.Up", "v.test.x.Down"),              # in the branch
             Edge("v.prod.Model", "v.test.x.Up"),                # a pinned prod upstream
             Edge("v.test.x.Down", "v.user.carol.Report"),       # carol's flow pins this branch
             Edge("v.test.x.Down", "secret.prod.Audit")]         # a DAG this user cannot read
    readable = {"v.test.x.Up", "v.test.x.Down", "v.prod.Model", "v.user.carol.Report"}
    runs = {"v.test.x.Up": {"run_id": "r1", "state": "success", "start_date": None, "end_date": None}}
    finishes = {"v.test.x.Up": {"asset_id": 7, "last_finish": {"run_id": "r1", "timestamp": "2026-11-22T00:00:00"}}}
    view = branch_view("v", "test.x", rows, edges, runs, finishes, readable)
    assert (view["kind"], view["production"], view["owners"]) == ("test", False, ["bob"])
    up, down = view["deployments"]
    assert (up["dag_id"], up["flow"], up["triggered_by"], up["triggers"]) == \
        ("v.test.x.Up", "Up", ["v.prod.Model"], ["v.test.x.Down"])
    assert up["cross_branch"] == ["v.prod.Model"] and up["finish_asset_id"] == 7
    assert up["last_run"]["state"] == "success" and up["last_finish"]["run_id"] == "r1"
    assert down["triggers"] == ["v.user.carol.Report"] and down["cross_branch"] == ["v.user.carol.Report"]
    assert down["last_run"] is None and down["last_finish"] is None


def test_prod_branches_are_production_and_name_their_owner():
    view = branch_view("v", "prod.exp", [row("v.prod.exp.A", "v", "prod.exp", "alice")], [], {}, {}, set())
    assert (view["kind"], view["production"], view["owners"]) == ("prod", True, ["alice"])


def test_graph_layout_places_flows_by_trigger_depth_and_survives_loops():
    rows = [row(f"p.user.a.{n}", "p", "user.a") for n in ("A", "B", "C", "L1", "L2")]
    edges = [Edge("p.user.a.A", "p.user.a.B"), Edge("p.user.a.B", "p.user.a.C"), Edge("p.prod.M", "p.user.a.A"),
             Edge("p.user.a.L1", "p.user.a.L2"), Edge("p.user.a.L2", "p.user.a.L1")]
    readable = {r.dag_id for r in rows} | {"p.prod.M"}
    layout = graph_layout(branch_view("p", "user.a", rows, edges, {}, {}, readable))
    x = {dag_id: xy[0] for dag_id, xy in layout["nodes"].items()}
    assert x["p.prod.M"] < x["p.user.a.A"] < x["p.user.a.B"] < x["p.user.a.C"]
    assert ("p.prod.M", "p.user.a.A") in layout["edges"] and len(layout["nodes"]) == 6
    assert {x["p.user.a.L1"], x["p.user.a.L2"]} <= set(range(0, 2000))
