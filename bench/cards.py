"""Cards: what a default @card costs a task with 100 artifacts (against the same step without it, and against
Metaflow's own default card), and a blank card holding a 10 MB image.

    python bench/cards.py [--repeat 5] [--image-mb 10]

1. A flow whose `start` sets 100 artifacts (ints, strings, small lists and dicts, 1 MiB of bytes, a pandas
   DataFrame of 1000 rows when pandas is installed) and goes to `end`, written four times: with and without
   `@card` on `start`, with `from airflow_flow_triggers import ...` and with `from metaflow import ...`. Each run
   is `python flow.py run` in a fresh temporary directory (its own AIRFLOW_HOME, HOME, Metaflow's local
   datastore and metadata under it), interleaved; medians. Measured: the `start` task's time as each package's
   client records it (`Task.finished_at - Task.created_at`), from `created_at` until the card's HTML file is
   written (its mtime in the store), and the wall time of the whole command. Both packages record a task's end
   (ours: the `_task.json` record; Metaflow's: its `_task_ok` artifact) before they render its final cards, so
   `finished_at` does not hold the card's cost; the card file's time does (the next task waits for it).
   A diagnostic variant of ours imports jinja2 and markdown_it in the flow file: the runner has them before it
   forks its workers, so the task does not import them when it renders its card (what that first use costs).
2. A step that appends `Image(<a PNG of random noise, ~10 MB>)` to a blank card, against the same step
   (reading the same file) without @card: the task's time, the card's HTML size, that `get_cards(task)[0].html`
   holds the image's data URI; then the stored card opened in headless Chromium (playwright, /usr/bin/chromium),
   from `page.goto` until the image's `naturalWidth > 0`.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

HUNDRED_ARTIFACTS = '''
from {package} import FlowSpec, step, card
{preload}
try:
    import pandas as pd
except ImportError:
    pd = None


class CardBenchFlow(FlowSpec):
{decorator}    @step
    def start(self):
        for i in range(30):
            setattr(self, f"number_{i:02d}", i * 1000 + 7)
            setattr(self, f"text_{i:02d}", f"value {i} " * (i + 1))
        for i in range(19):
            setattr(self, f"items_{i:02d}", list(range(i * 3)))
            setattr(self, f"mapping_{i:02d}", {f"key{k}": [k, str(k)] for k in range(i)})
        self.blob = bytes(range(256)) * 4096                       # 1 MiB
        if pd is not None:
            self.frame = pd.DataFrame({"a": range(1000), "b": [x * 0.5 for x in range(1000)],
                                       "c": [f"row {x}" for x in range(1000)]})
        else:
            self.frame = {"no": "pandas"}
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CardBenchFlow()
'''

BIG_IMAGE = '''
from airflow_flow_triggers import FlowSpec, step, card, current
from airflow_flow_triggers.cards import Image


class ImageCardFlow(FlowSpec):
{decorator}    @step
    def start(self):
        with open({png!r}, "rb") as handle:
            png = handle.read()
        if {with_card!r}:
            current.card.append(Image(png, label="noise"))
        self.size = len(png)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ImageCardFlow()
'''

# Run in the run's directory and environment after it: the `start` task as the package's client sees it.
READ_OURS = '''
import json, os, sys
from airflow_flow_triggers import Flow, namespace
from airflow_flow_triggers.cards import get_cards
namespace(None)
task = Flow(sys.argv[1]).latest_run["start"].task
found = {"started": task.created_at.timestamp(), "finished": task.finished_at.timestamp()}
cards = get_cards(task)
found["cards"] = len(cards)
if cards:
    from urllib.parse import urlparse
    found["card_written"] = os.path.getmtime(urlparse(str(cards[0].path)).path)
    html = cards[0].html
    found["html_bytes"] = len(html.encode())
    with open("card.html", "w", encoding="utf-8") as handle:
        handle.write(html)
    if len(sys.argv) > 2:
        from airflow_flow_triggers.reports.components import image_data_uri
        with open(sys.argv[2], "rb") as handle:
            found["has_data_uri"] = image_data_uri(handle.read()) in html
print(json.dumps(found))
'''

READ_METAFLOW = '''
import json, os, sys
from metaflow import Flow, namespace
from metaflow.cards import get_cards
from metaflow.plugins.cards.exception import CardNotPresentException
namespace(None)
task = Flow(sys.argv[1]).latest_run["start"].task
found = {"started": task.created_at.timestamp(), "finished": task.finished_at.timestamp()}
try:
    cards = get_cards(task)
except CardNotPresentException:
    cards = []
found["cards"] = len(cards)
if cards:
    path = os.path.join(".metaflow", "mf.cards", cards[0].path)
    found["card_written"] = os.path.getmtime(path)
    found["html_bytes"] = os.path.getsize(path)
print(json.dumps(found))
'''


def environment(workdir: Path) -> dict:
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("METAFLOW_", "AIRFLOW__", "AIRFLOW_"))}
    env.update(USER="alice", METAFLOW_USER="alice", HOME=str(workdir), AIRFLOW_HOME=str(workdir / "airflow"),
               METAFLOW_HOME=str(workdir / "mfhome"), METAFLOW_DEFAULT_DATASTORE="local",
               METAFLOW_DEFAULT_METADATA="local", PYTHONUNBUFFERED="1")     # Metaflow's store: <workdir>/.metaflow
    return env


def run_once(source: str, package: str, flow_name: str, parent: Path, extra: tuple[str, ...] = ()) -> dict:
    """`python flow.py run` of `source` in a fresh directory under `parent`: its wall seconds and what the
    package's client says of the `start` task (seconds; for ours the card is kept in <dir>/card.html)."""
    workdir = Path(tempfile.mkdtemp(dir=parent))
    (workdir / "flow.py").write_text(source)
    env = environment(workdir)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "flow.py", "run"], cwd=workdir, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{package} run in {workdir} failed:\n{(done.stdout + done.stderr)[-3000:]}")
    reader = READ_OURS if package == "airflow_flow_triggers" else READ_METAFLOW
    read = subprocess.run([sys.executable, "-c", reader, flow_name, *extra], cwd=workdir, env=env,
                          capture_output=True, text=True)
    if read.returncode != 0:
        raise SystemExit(f"reading the {package} run in {workdir} failed:\n{read.stderr[-3000:]}")
    found = json.loads(read.stdout.strip().splitlines()[-1])
    found["wall"] = wall
    found["task"] = found["finished"] - found["started"]
    if "card_written" in found:
        found["until_card"] = found["card_written"] - found["started"]
    found["dir"] = workdir
    return found


def noise_png(megabytes: float) -> bytes:
    """A PNG of random RGB noise (it does not compress) of about `megabytes` MB."""
    from PIL import Image as PILImage
    side = int((megabytes * 1e6 / 3) ** 0.5)
    picture = PILImage.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = io.BytesIO()
    picture.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def median_of(rows: list[dict], key: str) -> float:
    return statistics.median(row[key] for row in rows)


PRELOAD = "preload"   # @card, and the flow file imports the card's libraries (so the runner does, before the fork)


def overhead(repeat: int, parent: Path) -> dict:
    """Part 1, interleaved (the order reversed every other round): {(package, with_card): [runs]}."""
    variants = [("airflow_flow_triggers", False), ("airflow_flow_triggers", True), ("airflow_flow_triggers", PRELOAD),
                ("metaflow", False), ("metaflow", True)]
    runs: dict = {variant: [] for variant in variants}
    for round_ in range(repeat):
        for package, with_card in (variants if round_ % 2 == 0 else variants[::-1]):
            source = HUNDRED_ARTIFACTS.replace("{package}", package).replace(
                "{decorator}", "    @card\n" if with_card else "").replace(
                "{preload}", "import jinja2, markdown_it  # noqa: F401,E401\n" if with_card == PRELOAD else "")
            row = run_once(source, package, "CardBenchFlow", parent)
            if row["cards"] != (1 if with_card else 0):
                raise SystemExit(f"{package}: expected {int(with_card)} card, found {row['cards']} in {row['dir']}")
            runs[(package, with_card)].append(row)
            shutil.rmtree(row["dir"], ignore_errors=True)
    return runs


def image_card(repeat: int, parent: Path, megabytes: float) -> tuple[int, dict, list[float]]:
    """Part 2: the image card's runs and its time to paint in Chromium; the PNG's size."""
    png = noise_png(megabytes)
    png_path = parent / "noise.png"
    png_path.write_bytes(png)
    runs: dict = {False: [], True: []}
    kept = []
    for round_ in range(repeat):
        for with_card in ((False, True) if round_ % 2 == 0 else (True, False)):
            source = BIG_IMAGE.replace("{decorator}", "    @card(type='blank')\n" if with_card else "").replace(
                "{png!r}", repr(str(png_path))).replace("{with_card!r}", repr(with_card))
            row = run_once(source, "airflow_flow_triggers", "ImageCardFlow", parent, (str(png_path),))
            runs[with_card].append(row)
            if with_card:
                if not row.get("has_data_uri"):
                    raise SystemExit(f"the card in {row['dir']} lacks the image's data URI")
                kept.append(row["dir"] / "card.html")
            else:
                shutil.rmtree(row["dir"], ignore_errors=True)
    paints = browser_paint(kept, png)
    return len(png), runs, paints


def browser_paint(pages: list[Path], png: bytes) -> list[float]:
    """Seconds from `page.goto` of each stored card until its image has a naturalWidth > 0 (a fresh page each;
    the browser started once, not counted)."""
    from PIL import Image as PILImage
    from playwright.sync_api import sync_playwright
    width = PILImage.open(io.BytesIO(png)).size[0]
    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            for path in pages:
                page = browser.new_page(viewport={"width": 1000, "height": 800})
                started = time.perf_counter()
                page.goto(path.as_uri(), wait_until="commit")
                page.wait_for_function("() => { const img = document.querySelector('img[src^=\"data:image/png\"]');"
                                       " return img !== null && img.naturalWidth > 0; }", polling=5, timeout=120_000)
                times.append(time.perf_counter() - started)
                drawn = page.eval_on_selector("img[src^='data:image/png']", "img => img.naturalWidth")
                if drawn != width:
                    raise SystemExit(f"Chromium drew the image {drawn} px wide, not {width}")
                page.close()
        finally:
            browser.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--image-mb", type=float, default=10.0)
    args = parser.parse_args()
    import metaflow  # noqa: F401  (fail early if the bench extra is not installed)
    try:
        import pandas  # noqa: F401
        has_pandas = "with a 1000-row DataFrame"
    except ImportError:
        has_pandas = "no pandas: a dict instead of the DataFrame"

    with tempfile.TemporaryDirectory(prefix="cardbench-") as tmp:
        parent = Path(tmp)
        load_before = os.getloadavg()[0]
        runs = overhead(args.repeat, parent)
        print(f"## Cards on {os.cpu_count()} cores (median of {args.repeat}; `start` sets 100 artifacts, "
              f"{has_pandas}; load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after)\n")
        print("| `start` task / whole run | without @card | with @card | ratio (target <= 1.2) |")
        print("|---|---|---|---|")
        for package, label in (("airflow_flow_triggers", "airflow_flow_triggers"), ("metaflow", "Metaflow")):
            plain, carded = runs[(package, False)], runs[(package, True)]
            variants = [(carded, "")] + ([(runs[(package, PRELOAD)], " (flow file imports jinja2, markdown_it)")]
                                         if package == "airflow_flow_triggers" else [])
            for key, what in (("task", "`start` task, client's `finished_at - created_at`"),
                              ("until_card", "`start` task, `created_at` -> card file written"),
                              ("wall", "`python flow.py run`, wall")):
                base = median_of(plain, "task" if key == "until_card" else key)
                for rows, note in variants:
                    value = median_of(rows, key)
                    print(f"| {label}: {what}{note} | {base:.3f} s{' (finished_at)' if key == 'until_card' else ''} "
                          f"| {value:.3f} s | {value / base:.2f} |")
        print("\nSamples of the `start` task (ms, in run order; finished_at/card written): " + "; ".join(
            f"{package} {'no card' if not with_card else with_card if with_card == PRELOAD else 'card'} "
            + " ".join(f"{row['task'] * 1e3:.0f}" + (f"/{row['until_card'] * 1e3:.0f}" if with_card else "")
                       for row in rows) for (package, with_card), rows in runs.items()))
        sizes = {label: median_of(runs[(package, True)], "html_bytes") / 1e3
                 for package, label in (("airflow_flow_triggers", "ours"), ("metaflow", "Metaflow"))}
        print(f"\nDefault card HTML: ours {sizes['ours']:.0f} kB, Metaflow {sizes['Metaflow']:.0f} kB.", flush=True)

        png_bytes, image_runs, paints = image_card(args.repeat, parent, args.image_mb)
        carded = image_runs[True]
        print(f"\n| blank card with Image(PNG of {png_bytes / 1e6:.2f} MB, random noise) | value |")
        print("|---|---|")
        print(f"| `start` task without @card (reads the PNG) | {median_of(image_runs[False], 'task'):.3f} s |")
        print(f"| `start` task with the card: client's `finished_at - created_at` | "
              f"{median_of(carded, 'task'):.3f} s |")
        print(f"| `start` task with the card: `created_at` -> card file written | "
              f"{median_of(carded, 'until_card'):.3f} s |")
        print(f"| `python flow.py run`, wall, without / with | {median_of(image_runs[False], 'wall'):.2f} s / "
              f"{median_of(carded, 'wall'):.2f} s |")
        print(f"| card HTML | {median_of(carded, 'html_bytes') / 1e6:.2f} MB |")
        print(f"| `get_cards(task)[0].html` holds the image's data URI | "
              f"{sum(row['has_data_uri'] for row in carded)} of {len(carded)} |")
        print(f"| Chromium: `goto` -> image `naturalWidth > 0` | {statistics.median(paints):.3f} s "
              f"(samples {' '.join(f'{p:.2f}' for p in paints)}) |")


if __name__ == "__main__":
    main()
