"""`make demo`'s script stops the Airflow it started on SIGTERM (what kill, systemd and containers send)."""
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


def test_sigterm_stops_the_demos_airflow(tmp_path):
    home = tmp_path / "demo"
    demo = subprocess.Popen([sys.executable, str(REPO / "docker" / "demo.py"), "--keep-running", "--home", str(home)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, METAFLOW_USER="alice"))
    try:
        for line in demo.stdout:
            if line.startswith("Airflow is up at"):
                break
        else:
            pytest.fail("the demo ended before Airflow was up")
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
