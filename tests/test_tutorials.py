"""Metaflow's own tutorials (shipped in the `metaflow` wheel, `metaflow/tutorials/`), the import line changed, run
under Metaflow 2.19 and under this package: each prints the same, step by step (the playlists' random picks read as
<movie>). 03-playlist-redux reads 02's latest successful run through the client (`Flow(...)`, `get_metadata()`), so
the tutorials run in order from one folder, as their READMEs say. 04 asks for conda environments, which this package
refuses with one sentence; 05 needs a Kubernetes cluster (tests/test_kubernetes.py covers @kubernetes), and 06-08
are notebooks over the same flows.
"""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_metaflow_oracle import printed

TUTORIALS = ("00-helloworld/helloworld.py", "01-playlist/playlist.py", "02-statistics/stats.py",
             "03-playlist-redux/playlist.py")
PICK = re.compile(r"^((?:Bonus )?Pick(?: \d+)?: ).*$")


@pytest.fixture(scope="module")
def shipped() -> Path:
    metaflow = pytest.importorskip("metaflow")
    return Path(metaflow.__file__).parent / "tutorials"


def tutorials_folder(shipped: Path, root: Path, tool: str) -> Path:
    folder = root / tool
    for name in {path.split("/")[0] for path in (*TUTORIALS, "04-playlist-plus/playlist.py")}:
        shutil.copytree(shipped / name, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
        if tool == "ours":
            for source in (folder / name).glob("*.py"):
                source.write_text(source.read_text().replace("from metaflow import",
                                                             "from airflow_flow_triggers import"))
    return folder


def run(folder: Path, tutorial: str) -> subprocess.CompletedProcess:
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "USER": "alice", "METAFLOW_USER": "alice",
           "HOME": str(folder), "AIRFLOW_HOME": str(folder / "airflow_home"), "PYTHONUNBUFFERED": "1",
           "METAFLOW_DEFAULT_DATASTORE": "local", "METAFLOW_DEFAULT_METADATA": "local"}
    return subprocess.run([sys.executable, tutorial, "run"], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=600)


def seen(result: subprocess.CompletedProcess) -> dict:
    """What each step printed, with what differs by nature between two runs read the same: a random pick, the
    metadata provider's place, a run id."""
    steps = printed(result.stdout + "\n" + result.stderr)
    return {step: sorted(tuple(_plain(line) for line in task) for task in tasks) for step, tasks in steps.items()}


def _plain(line: str) -> str:
    line = PICK.sub(r"\1<movie>", line)       # a title may hold a quote: "Pick 3: 'The Time Traveler's Wife'"
    line = re.sub(r"^Using metadata provider: local@.*$", "Using metadata provider: local@<folder>", line)
    return re.sub(r"Run\('MovieStatsFlow/\w+'\)", "Run('MovieStatsFlow/<run>')", line)


def test_metaflows_tutorials_print_the_same_as_under_metaflow(shipped, tmp_path):
    ours, theirs = (tutorials_folder(shipped, tmp_path, tool) for tool in ("ours", "metaflow"))
    for tutorial in TUTORIALS:
        here, there = run(ours, tutorial), run(theirs, tutorial)
        assert (here.returncode, there.returncode) == (0, 0), (tutorial, here.stderr, there.stderr)
        assert seen(here) == seen(there), tutorial
    redux = seen(here)["start"][0]
    assert redux == ("Using metadata provider: local@<folder>", "Using analysis from 'Run('MovieStatsFlow/<run>')'")
    assert len(seen(here)["end"][0]) == 7                    # the genre, 5 picks, the bonus pick


def test_the_conda_tutorial_is_one_sentence_saying_what_to_use_instead(shipped, tmp_path):
    result = run(tutorials_folder(shipped, tmp_path, "ours"), "04-playlist-plus/playlist.py")
    assert result.returncode == 1 and result.stdout == ""
    assert re.fullmatch(r"error: \S+/04-playlist-plus/playlist\.py:\d+: @conda_base is a Metaflow decorator that "
                        r"airflow_flow_triggers does not support: [^\n]+\.\n", result.stderr), result.stderr
