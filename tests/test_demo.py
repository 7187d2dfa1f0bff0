"""`make demo`'s script runs every chain to the end, then (kept running) stops the Airflow it started on SIGTERM
(what kill, systemd and containers send)."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO

pytestmark = pytest.mark.e2e


def processes_with_home(home: Path) -> list[int]:
    """PIDs of processes whose environment has AIRFLOW_HOME under `home`: only what the demo started."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if f"AIRFLOW_HOME={home}".encode() in environ:
            found.append(int(proc.name))
    return found


def test_the_demo_runs_every_chain_then_sigterm_stops_its_airflow(tmp_path):
    home = tmp_path / "demo"
    demo = subprocess.Popen([sys.executable, str(REPO / "docker" / "demo.py"), "--keep-running", "--home", str(home)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, METAFLOW_USER="alice"))
    try:
        printed = []
        for line in demo.stdout:
            printed.append(line)
            if line.startswith("Airflow UI: "):                # every chain ran; --keep-running waits here
                break
        else:
            pytest.fail("the demo ended before its chains ran:\n" + "".join(printed[-40:]))
        text = "".join(printed)
        assert "Every chain completed; each branch triggered only its own downstream flow." in text, text[-3000:]
        assert text.count("-> started by itself:") == 7 and ": success\n" in text
        assert "variant_demo.user.alice.ArchiveReportFlow printed: Archiving 42 rows published by " \
               "Run('publish_report/" in text                     # flow -> TaskFlow DAG -> classic DAG -> flow
        assert "This run was triggered by MetaflowEvent(name='metaflow.variant_demo.user.alice.FirstProjectFlow.end'" \
            in text
        assert processes_with_home(home / "airflow_home")       # api-server, scheduler, dag-processor, ...
        demo.send_signal(signal.SIGTERM)
        rest = demo.stdout.read()
        assert demo.wait(timeout=90) == 128 + signal.SIGTERM
        assert "Airflow stopped." in rest
        deadline = time.time() + 10
        while processes_with_home(home / "airflow_home") and time.time() < deadline:
            time.sleep(0.5)
        assert processes_with_home(home / "airflow_home") == []
    finally:
        if demo.poll() is None:
            demo.kill()
        for pid in processes_with_home(home / "airflow_home"):   # what this test started and left behind
            os.kill(pid, signal.SIGKILL)
