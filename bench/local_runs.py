"""Local runs, side by side: airflow_flow_triggers vs Metaflow from PyPI, and a 512 MiB artifact handoff.

    python bench/local_runs.py [--repeat 5] [--artifact-mib 512]

Each flow file is written twice, identical but for `from metaflow import ...` vs
`from airflow_flow_triggers import ...`, and run as `python flow.py run` with default options (Metaflow:
16 workers; ours: one worker process per core) in a fresh temporary directory. Runs are interleaved;
the table shows medians. The artifact flow hands a 512 MiB artifact from `start` to a split branch
(each task in a worker process); the peak memory is the peak of the summed PSS of the run's whole
process tree (runner and workers), sampled every 20 ms.
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

CPU_BOUND = '''
from {package} import FlowSpec, step

def burn(n):
    total = 0
    for i in range(n):
        total += i * i % 7
    return total

class CpuBoundFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(8))
        self.next(self.work, foreach='items')

    @step
    def work(self):
        self.result = burn(18_000_000)            # about 1.5 s of pure Python on the 2-core machine
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.result for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print('total', self.total)

if __name__ == '__main__':
    CpuBoundFlow()
'''

BIG_ARTIFACT = '''
import time
from airflow_flow_triggers import FlowSpec, step

class BigArtifactFlow(FlowSpec):
    @step
    def start(self):
        self.blob = b'Z' * {size}                # materialised memory, as a real artifact is
        self.made_at = time.perf_counter()      # the step's code ends here; the handoff starts
        self.next(self.use, self.other)

    @step
    def use(self):
        size = len(self.blob)                   # loads the artifact, in another worker process
        print('handoff_seconds', time.perf_counter() - self.made_at, 'size', size)
        self.next(self.join)

    @step
    def other(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    BigArtifactFlow()
'''


def run_flow(source: str, package: str, workdir: Path, options: tuple[str, ...] = ()) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of `python flow.py run [options]` for a fresh flow file."""
    flow = workdir / "flow.py"
    flow.write_text(source.replace("{package}", package))
    env = dict(os.environ, USER="alice", AIRFLOW_HOME=str(workdir / "airflow"),
               METAFLOW_HOME=str(workdir / "mfhome"), PYTHONUNBUFFERED="1")
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, str(flow), "run", *options], cwd=workdir, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    sampler = TreeMemory(process.pid)
    output = process.stdout.read()
    _, status, _ = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{package} run of {flow} failed:\n{output.decode()[-3000:]}")
    run_flow.last_output = output.decode()
    return elapsed, sampler.stop()


class TreeMemory:
    """The peak, over time, of the summed PSS of a process and its descendants (sampled every 20 ms)."""

    def __init__(self, pid: int):
        import threading
        self.pid, self.peak, self.done = pid, 0, threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self):
        import psutil
        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self.done.is_set():
            total = 0
            try:
                for process in [root, *root.children(recursive=True)]:
                    try:
                        total += process.memory_full_info().pss
                    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                        pass
            except psutil.NoSuchProcess:
                return
            self.peak = max(self.peak, total)
            self.done.wait(0.02)

    def stop(self) -> int:
        self.done.set()
        self.thread.join()
        return self.peak


def compare(name: str, source: str, repeat: int) -> dict:
    times = {"metaflow": [], "airflow_flow_triggers": []}
    for _ in range(repeat):
        for package in times:
            with tempfile.TemporaryDirectory() as tmp:
                times[package].append(run_flow(source, package, Path(tmp))[0])
    ours, theirs = (statistics.median(times[p]) for p in ("airflow_flow_triggers", "metaflow"))
    return {"flow": name, "ours": ours, "metaflow": theirs, "ratio": ours / theirs}


def scaling(repeat: int) -> dict:
    """Ours alone: an 8-task foreach of ~0.18 s CPU-bound tasks with one worker against the default (one per
    core): what more cores buy. (Metaflow is not the baseline here: it starts a Python interpreter per task,
    where a local run here forks a warm pool of workers once.)"""
    source = CPU_BOUND.replace("burn(18_000_000)", "burn(2_200_000)")
    found = {}
    for options in ((), ("--max-workers", "1")):
        times = []
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as tmp:
                times.append(run_flow(source, "airflow_flow_triggers", Path(tmp), options)[0])
        found[" ".join(options) or f"default ({os.cpu_count()} workers)"] = statistics.median(times)
    return found


def artifact_handoff(size: int, repeat: int, options: tuple[str, ...] = ()) -> dict:
    """The handoff of a `size`-byte artifact to another task: in worker processes (default), or with
    `--max-workers 1` in the runner's own process."""
    handoffs, peaks, copies = [], [], []
    source = BIG_ARTIFACT.replace("{size}", str(size))
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
            _, peak = run_flow(source, "airflow_flow_triggers", Path(tmp), options)
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

    print(f"## Local runs on {os.cpu_count()} cores (median of {args.repeat}; wall seconds of "
          "`python flow.py run`, or the measure named)\n")
    print("| case | airflow_flow_triggers | baseline | ratio | target |")
    print("|---|---|---|---|---|")
    for name, source, target in (("5-step split/join", SPLIT_JOIN, "<= 0.25"),
                                 ("100-way foreach", FOREACH, "<= 0.25"),
                                 ("CPU-bound foreach, 8 x ~1.5 s", CPU_BOUND, "<= 0.8")):
        row = compare(name, source, args.repeat)
        print(f"| {row['flow']} | {row['ours']:.2f} s | Metaflow {row['metaflow']:.2f} s | {row['ratio']:.2f} "
              f"| {target} |", flush=True)
    row = artifact_handoff(args.artifact_mib << 20, args.repeat)
    print(f"| {row['size_mib']:.0f} MiB artifact handoff, throughput | {row['ours_mib_s']:.0f} MiB/s | "
          f"shutil.copyfile {row['copy_mib_s']:.0f} MiB/s | {row['throughput_ratio']:.2f} | >= 0.5 |")
    print(f"| {row['size_mib']:.0f} MiB artifact, peak PSS of the run's processes | {row['peak_rss_mib']:.0f} MiB | "
          f"the artifact {row['size_mib']:.0f} MiB | {row['peak_ratio']:.2f} | <= 2.5 |")
    one = artifact_handoff(args.artifact_mib << 20, args.repeat, ("--max-workers", "1"))
    print(f"| the same handoff with `--max-workers 1` (one process) | {one['ours_mib_s']:.0f} MiB/s | "
          f"shutil.copyfile {one['copy_mib_s']:.0f} MiB/s | {one['throughput_ratio']:.2f} | |", flush=True)
    print("\n| 8-task foreach of ~0.18 s tasks, ours | wall seconds |\n|---|---|")
    for label, seconds in scaling(args.repeat).items():
        print(f"| {label} | {seconds:.2f} |", flush=True)


if __name__ == "__main__":
    main()
