"""Metaflow's run options and METAFLOW_* variables, against Metaflow 2.19 as the oracle.

The flows of tests/oracle/options/ run under Metaflow and under this package with the same options and
environment; what each step printed (tests/test_metaflow_oracle.py's `printed`) and the exit status must be
the same. The options Metaflow has that cannot apply here are one sentence each.
"""
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_flow
from test_metaflow_oracle import printed

FLOWS = Path(__file__).resolve().parent / "oracle" / "options"
SUITE_OPTIONS = ["--metadata=local", "--datastore=local", "--environment=local", "--event-logger=nullSidecarLogger",
                 "--no-pylint", "--quiet"]       # what Metaflow's core test suite passes before every command


def both(flow: str, args: list[str], tmp_path: Path, **env: str) -> tuple[tuple, tuple, str]:
    """(ours, Metaflow's) (exit status, printed) of `python <flow> args` with `env`; and our stderr.

    Metaflow runs again (at most 3 times) while it differs from ours: its runtime drains a failed task's pipes
    best-effort, so on a busy machine it now and then lacks a line a failing attempt printed (see
    test_metaflow_oracle.oracle); a real difference shows every time.
    """
    ours = _run("ours", flow, args, tmp_path / "ours", env)
    for attempt in range(3):
        theirs = _run("metaflow", flow, args, tmp_path / f"metaflow{attempt}", env)
        if theirs[:2] == ours[:2]:
            break
    return ours[:2], theirs[:2], ours[2]


def _run(tool: str, flow: str, args: list[str], folder: Path, env: dict) -> tuple[int, dict, str]:
    folder.mkdir(parents=True, exist_ok=True)
    source = (FLOWS / flow).read_text()
    if tool == "ours":
        source = source.replace("from metaflow import", "from airflow_flow_triggers import")
    (folder / flow).write_text(source)
    environment = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "USER": "alice",
                   "METAFLOW_USER": "alice", "HOME": str(folder), "AIRFLOW_HOME": str(folder / "airflow_home"),
                   "PYTHONUNBUFFERED": "1", "METAFLOW_DEFAULT_DATASTORE": "local",
                   "METAFLOW_DEFAULT_METADATA": "local", **env}
    result = subprocess.run([sys.executable, flow, *args], cwd=folder, env=environment, capture_output=True,
                            text=True, timeout=300)
    return result.returncode, printed(result.stdout + "\n" + result.stderr), result.stderr


@pytest.mark.parametrize("env, top, args", [
    ({"METAFLOW_RUN_ALPHA": "5", "METAFLOW_RUN_MY_PARAM": "hey", "METAFLOW_RUN_FLAG": "true"}, [], []),
    ({"METAFLOW_RUN_ALPHA": "5", "METAFLOW_RUN_FLAG": "false"}, [], ["--alpha", "6"]),    # the command line wins
    ({"METAFLOW_BRANCH": "feat"}, [], []),
    ({"METAFLOW_PRODUCTION": "yes"}, [], []),
    ({"METAFLOW_PRODUCTION": "0"}, [], []),
    ({"METAFLOW_BRANCH": "feat", "METAFLOW_PRODUCTION": "True"}, [], []),
    ({"METAFLOW_BRANCH": "feat"}, ["--branch", "other"], []),
    ({"METAFLOW_RUN_TAGS": "first second"}, [], []),
    ({"METAFLOW_RUN_TAGS": "first"}, [], ["--tag", "given"]),
    ({"METAFLOW_USER": "bob"}, [], []),
], ids=["parameters", "command-line-wins", "branch", "production", "not-production", "branch-production",
        "branch-option-wins", "tags", "tag-option-wins", "user"])
def test_metaflow_variables_as_metaflow_reads_them(env, top, args, tmp_path):
    ours, theirs, _ = both("env_options_flow.py", [*top, "run", *args], tmp_path, **env)
    assert ours[0] == 0 and ours == theirs


def test_a_bad_boolean_variable_is_one_sentence(tmp_path):
    ours, theirs, stderr = both("env_options_flow.py", ["run"], tmp_path, METAFLOW_PRODUCTION="abc")
    assert ours[0] == 1 and theirs[0] != 0
    assert stderr == "error: METAFLOW_PRODUCTION='abc' is not true or false: set it to true or false (or unset it).\n"


def test_with_adds_decorators_where_a_step_has_none_of_that_name(tmp_path):
    ours, theirs, _ = both("with_flow.py", ["run", "--with", "retry:times=1,minutes_between_retries=0",
                                            "--with", "catch:var=oops",
                                            "--with", 'environment:vars={"GREETING": "hi"}'], tmp_path)
    assert ours[0] == 0 and ours == theirs
    assert ours[1]["own"] == [("broken caught builtins.KeyError own attempt 0",
                              "@catch caught an exception from <flow WithFlow step own>",
                              "@catch> ValueError: its own @retry(times=0) wins: no second attempt")]


def test_default_decospecs_and_top_level_with(tmp_path):
    """METAFLOW_DEFAULT_DECOSPECS and the top-level --with add decorators to run too, as in Metaflow."""
    ours, theirs, _ = both("with_flow.py", ["--with", "catch:var=oops", "run"], tmp_path,
                           METAFLOW_DEFAULT_DECOSPECS="retry:times=1,minutes_between_retries=0 "
                                                      'environment:vars={"GREETING":"hey"}')
    assert ours[0] == 0 and ours == theirs


def test_without_with_the_flow_fails_as_in_metaflow(tmp_path):
    ours, theirs, _ = both("with_flow.py", ["run"], tmp_path)
    assert ours[0] == 1 and ours == theirs


@pytest.mark.parametrize("args, env", [
    (["run", "--max-num-splits", "2"], {}),
    (["run"], {"METAFLOW_RUN_MAX_NUM_SPLITS": "2"}),
    (["run"], {"ITEMS": "101"}),                            # Metaflow's default maximum: 100
    (["run", "--max-num-splits", "101"], {"ITEMS": "101"}),
], ids=["option", "variable", "default", "raised"])
def test_max_num_splits(args, env, tmp_path):
    ours, theirs, stderr = both("splits_flow.py", [*args, "--run-id-file", "run-id"], tmp_path, **env)
    assert ours == theirs
    if ours[0]:
        count = env.get("ITEMS", "3")
        limit = args[2] if len(args) > 2 else env.get("METAFLOW_RUN_MAX_NUM_SPLITS", "100")
        assert stderr.endswith(f": Foreach in step start yielded {count} child steps, which is more than the current "
                               f"maximum of {limit} children: raise the maximum with --max-num-splits.\n"), stderr


def test_the_core_suites_top_level_options_are_metaflows(tmp_path):
    """`--metadata=local --datastore=local ... --quiet` are accepted; --quiet leaves the run's lines, as in
    Metaflow (it quiets only the messages before them, which this package does not print)."""
    ours, theirs, stderr = both("splits_flow.py", [*SUITE_OPTIONS, "run", "--run-id-file", "run-id"], tmp_path)
    assert ours[0] == 0 and ours == theirs and stderr == ""
    assert ours[1]["join"] == [("joined 3",)]


@pytest.mark.parametrize("option, message", [
    ("--datastore=s3", "--datastore=s3 cannot apply here: the artifact root is [flow_triggers] artifact_root = file://"),
    ("--metadata=service", "--metadata=service cannot apply here: a run's metadata is its records in the artifact "
                           "store"),
    ("--environment=conda", "--environment=conda cannot apply here: steps run in the Python environment of this "
                            "machine"),
    ("--event-logger=debugLogger", "--event-logger=debugLogger cannot apply here: there is no Metaflow event-logger"),
    ("--monitor=debugMonitor", "--monitor=debugMonitor cannot apply here"),
    ("--datastore=nope", "argument --datastore: invalid choice: 'nope'"),
])
def test_a_metaflow_option_that_cannot_apply_is_one_sentence(option, message, tmp_path, airflow_home):
    path = tmp_path / "flow.py"
    path.write_text((FLOWS / "splits_flow.py").read_text().replace("from metaflow", "from airflow_flow_triggers"))
    result = run_flow(path, option, "run", airflow_home=airflow_home)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(f"error: {message}") and len(result.stderr.splitlines()) == 1, result.stderr


def test_datastore_names_the_kind_of_artifact_root(tmp_path, airflow_home):
    path = tmp_path / "flow.py"
    path.write_text((FLOWS / "splits_flow.py").read_text().replace("from metaflow", "from airflow_flow_triggers"))
    local = run_flow(path, "--datastore=local", "run", "--run-id-file", "run-id", airflow_home=airflow_home)
    assert local.returncode == 0, local.stderr
    s3 = run_flow(path, "--datastore=s3", "show", airflow_home=airflow_home,
                  AIRFLOW__FLOW_TRIGGERS__ARTIFACT_ROOT="s3://aws_default@bucket/artifacts")
    assert s3.returncode == 0 and "Step start" in s3.stdout, s3.stderr


def test_run_id_file_in_a_missing_folder_is_one_sentence(tmp_path, airflow_home):
    path = tmp_path / "flow.py"
    path.write_text((FLOWS / "splits_flow.py").read_text().replace("from metaflow", "from airflow_flow_triggers"))
    result = run_flow(path, "run", "--run-id-file", str(tmp_path / "nowhere" / "id"), airflow_home=airflow_home)
    assert result.returncode == 1 and "Workflow starting" not in result.stdout
    assert result.stderr == (f"error: --run-id-file {tmp_path / 'nowhere' / 'id'}: cannot write the run id there (No "
                             "such file or directory): give a file in a folder that exists and you can write to.\n")


@pytest.mark.parametrize("args, message", [
    (["run", "--with", "nope"], "--with nope: there is no step decorator @nope"),
    (["run", "--with", "retry:times=x"], "--with retry:times=x: @retry(times='x') needs a whole number"),
    (["run", "--with", "conda"], "@conda is a Metaflow decorator that airflow_flow_triggers does not support"),
    (["run", "--max-num-splits", "0"], "argument --max-num-splits: expected a positive whole number, got '0'"),
])
def test_bad_run_options_are_one_sentence(args, message, tmp_path, airflow_home):
    path = tmp_path / "flow.py"
    path.write_text((FLOWS / "splits_flow.py").read_text().replace("from metaflow", "from airflow_flow_triggers"))
    result = run_flow(path, *args, airflow_home=airflow_home)
    assert result.returncode == 1 and message in result.stderr and len(result.stderr.splitlines()) == 1, \
        result.stderr
