"""Local runs, side by side: airflow_flow_triggers vs Metaflow from PyPI, and a 512 MiB artifact handoff.

    python bench/local_runs.py [--repeat 5] [--artifact-mib 512]

Each flow file is written twice, identical but for `from metaflow import ...` vs
`from airflow_flow_triggers import ...`, and run as `python flow.py run` (defaults for both, so
16 workers) in a fresh temporary directory. Runs are interleaved; the table shows medians.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPLIT_JOIN = '''
from {package} import FlowSpec, step

class SplitJoinFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1
        self.next(self.a, self.b)

    @step
    def a(self):
        self.y = self.x + 1
        self.next(self.join)

    @step
    def b(self):
        self.y = self.x + 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.y for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print('total', self.total)

if __name__ == '__main__':
    SplitJoinFlow()
'''

FOREACH = '''
from {package} import FlowSpec, step

class ForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(100))
        self.next(self.work, foreach='items')

    @step
    def work(self):
        self.square = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.square for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print('total', self.total)

if __name__ == '__main__':
    ForeachFlow()
'''

BIG_ARTIFACT = '''
import time
from airflow_flow_triggers import FlowSpec, step

class BigArtifactFlow(FlowSpec):
    @step
    def start(self):
        self.blob = b'Z' * {size}                # materialised memory, as a real artifact is
        self.made_at = time.perf_counter()      # the step's code ends here; the handoff starts
        self.next(self.end)

    @step
    def end(self):
        size = len(self.blob)                   # loads the artifact
        print('handoff_seconds', time.perf_counter() - self.made_at, 'size', size)

if __name__ == '__main__':
    BigArtifactFlow()
'''


def run_flow(source: str, package: str, workdir: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of `python flow.py run` for a fresh flow file."""
    flow = workdir / "flow.py"
    flow.write_text(source.replace("{package}", package))
    env = dict(os.environ, USER="alice", AIRFLOW_HOME=str(workdir / "airflow"),
               METAFLOW_HOME=str(workdir / "mfhome"), PYTHONUNBUFFERED="1")
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, str(flow), "run"], cwd=workdir, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{package} run of {flow} failed:\n{output.decode()[-3000:]}")
    run_flow.last_output = output.decode()
    return elapsed, usage.ru_maxrss * 1024


def compare(name: str, source: str, repeat: int) -> dict:
    times = {"metaflow": [], "airflow_flow_triggers": []}
    for _ in range(repeat):
        for package in times:
            with tempfile.TemporaryDirectory() as tmp:
                times[package].append(run_flow(source, package, Path(tmp))[0])
    ours, theirs = (statistics.median(times[p]) for p in ("airflow_flow_triggers", "metaflow"))
    return {"flow": name, "ours": ours, "metaflow": theirs, "ratio": ours / theirs}


def artifact_handoff(size: int, repeat: int) -> dict:
    handoffs, peaks, copies = [], [], []
    source = BIG_ARTIFACT.replace("{size}", str(size))
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
            _, peak = run_flow(source, "airflow_flow_triggers", Path(tmp))
            line = next(out for out in run_flow.last_output.splitlines() if "handoff_seconds" in out)
            handoffs.append(float(line.split("handoff_seconds ")[1].split()[0]))
            peaks.append(peak)
            src, dst = Path(tmp) / "src.bin", Path(tmp) / "dst.bin"
            src.write_bytes(b'Z' * size)
            started = time.perf_counter()
            shutil.copyfile(src, dst)
            copies.append(time.perf_counter() - started)
    mib = size / (1 << 20)
    ours, copy = mib / statistics.median(handoffs), mib / statistics.median(copies)
    return {"size_mib": mib, "ours_mib_s": ours, "copy_mib_s": copy, "throughput_ratio": ours / copy,
            "peak_rss_mib": statistics.median(peaks) / (1 << 20),
            "peak_ratio": statistics.median(peaks) / size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--artifact-mib", type=int, default=512)
    args = parser.parse_args()
    import metaflow  # noqa: F401  (fail early if the bench extra is not installed)

    print(f"## Local runs (median of {args.repeat}, wall seconds of `python flow.py run`)\n")
    print("| flow | airflow_flow_triggers | Metaflow | ratio (target <= 0.5) |")
    print("|---|---|---|---|")
    for name, source in (("5-step split/join", SPLIT_JOIN), ("100-way foreach", FOREACH)):
        row = compare(name, source, args.repeat)
        print(f"| {row['flow']} | {row['ours']:.2f} | {row['metaflow']:.2f} | {row['ratio']:.2f} |",
              flush=True)

    row = artifact_handoff(args.artifact_mib << 20, args.repeat)
    print(f"\n## {row['size_mib']:.0f} MiB artifact from `start` to `end`\n")
    print("| measure | value | target |")
    print("|---|---|---|")
    print(f"| handoff throughput (persist + load) | {row['ours_mib_s']:.0f} MiB/s | |")
    print(f"| plain file copy (shutil.copyfile) | {row['copy_mib_s']:.0f} MiB/s | |")
    print(f"| throughput ratio | {row['throughput_ratio']:.2f} | >= 0.5 |")
    print(f"| peak RSS of the whole run | {row['peak_rss_mib']:.0f} MiB | |")
    print(f"| peak RSS / artifact size | {row['peak_ratio']:.2f} | <= 2.5 |")


if __name__ == "__main__":
    main()
