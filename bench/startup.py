"""Start-up benchmark: whole-process wall time of llmprep commands next to the interpreter floors.

Every round runs each command once, in an order that rotates from round to round (so a slow moment of
the machine is spread over all commands), after one warm-up round that also fills the bank cache.
Prints the median and spread per command and its ratio to the `python -c "import typer"` floor, which
is the least a typer CLI can cost.

    python bench/startup.py                  # 15 rounds on the built-in bank
    python bench/startup.py --runs 30 --bank /path/to/bank --no-builtin
    python bench/startup.py --json           # one JSON object, for scripts

Target (issue 6): `grade` ≤ 1.5× the typer floor (≤ 1.3× ideally). A benchmark, not a test: the figures
depend on the machine and its load, so read the ratios, which are measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ANSWER_EN = (
    "Each GPU talks only to its two neighbours on a ring. The all-reduce is a reduce-scatter followed by an "
    "all-gather, 2(N-1) steps in total; every GPU sends 2(N-1)/N*M bytes, independent of N, so it is "
    "bandwidth-optimal."
)
# A Chinese answer also needs OpenCC (traditional → simplified) at grade time.
ANSWER_ZH = "每个 GPU 只与环上相邻的两个节点通信，先 reduce-scatter 再 all-gather，共 2(N-1) 步，带宽最优。"


def llmprep_command() -> list[str]:
    """The console script next to this interpreter (what a user runs), else `python -m llmprep`."""
    script = Path(sys.executable).with_name("llmprep")
    if script.exists():
        return [str(script)]
    found = shutil.which("llmprep")
    return [found] if found else [sys.executable, "-m", "llmprep"]


def first_qid(base: list[str], env: dict) -> str:
    """A question whose prompt is Chinese and English if there is one (demoting then tokenises Chinese)."""
    out = subprocess.run(base + ["list", "--json"], env=env, capture_output=True, text=True, check=True).stdout
    rows = json.loads(out)
    if not rows:
        sys.exit("the bank holds no questions")
    for row in rows:
        if "zh" in row.get("languages", []):
            return row["id"]
    return rows[0]["id"]


def run_once(cmd: list[str], env: dict) -> tuple[float, float]:
    """(wall ms, CPU ms) of one whole process; CPU time (user + sys, from wait4) is less disturbed
    by other load on the machine than wall time."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(cmd)} failed: {err.decode(errors='replace').strip()}")
    return elapsed * 1000, (usage.ru_utime + usage.ru_stime) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15, help="rounds (≥ 10; default 15)")
    ap.add_argument("--bank", action="append", default=[], metavar="DIR", help="extra bank dir (repeatable)")
    ap.add_argument("--no-builtin", action="store_true", help="do not load the built-in bank")
    ap.add_argument("--qid", help="question to grade (default: the first with a Chinese prompt)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    runs = max(10, args.runs)

    home = tempfile.mkdtemp(prefix="llmprep-bench-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMPREP_")}
    env.update(LLMPREP_HOME=home, PYTHONDONTWRITEBYTECODE="", LANG=env.get("LANG", "C.UTF-8"))
    base = llmprep_command()
    for d in args.bank:
        base += ["--bank", d]
    if args.no_builtin:
        base.append("--no-builtin")
    qid = args.qid or first_qid(base, env)
    py = sys.executable
    commands = {
        "python -c pass": [py, "-c", "pass"],
        "python -c 'import typer'": [py, "-c", "import typer"],
        "llmprep --version": base[:1] + ["--version"],
        "llmprep list": base + ["list"],
        "llmprep grade QID --json (English answer)": base + ["grade", qid, "--answer", ANSWER_EN, "--json"],
        "llmprep grade QID --json (Chinese answer)": base + ["grade", qid, "--answer", ANSWER_ZH, "--json"],
    }
    names = list(commands)
    times: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    try:
        for n in names:  # warm-up: page cache, .pyc files and the bank cache
            run_once(commands[n], env)
        for r in range(runs):
            k = r % len(names)
            for n in names[k:] + names[:k]:
                wall, used = run_once(commands[n], env)
                times[n].append(wall)
                cpu[n].append(used)
    finally:
        shutil.rmtree(home, ignore_errors=True)

    med = {n: statistics.median(v) for n, v in times.items()}
    cmed = {n: statistics.median(v) for n, v in cpu.items()}
    floor = med["python -c 'import typer'"]
    cfloor = cmed["python -c 'import typer'"]
    result = {
        "runs": runs,
        "qid": qid,
        "median_ms": {n: round(m, 1) for n, m in med.items()},
        "iqr_ms": {n: round(_iqr(v), 1) for n, v in times.items()},
        "ratio_vs_typer": {n: round(m / floor, 2) for n, m in med.items()},
        "cpu_median_ms": {n: round(m, 1) for n, m in cmed.items()},
        "cpu_ratio_vs_typer": {n: round(m / cfloor, 2) for n, m in cmed.items()},
    }
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    print(f"start-up, median of {runs} alternating runs; floor = python -c 'import typer'; QID = {qid}")
    print(f"{'command':<44}{'wall ms':>9}{'IQR':>7}{'× typer':>9}{'CPU ms':>9}{'× typer':>9}")
    for n in names:
        print(f"{n:<44}{med[n]:>9.1f}{_iqr(times[n]):>7.1f}{med[n] / floor:>9.2f}{cmed[n]:>9.1f}{cmed[n] / cfloor:>9.2f}")
    print()
    for n in names[-2:]:
        ratio = med[n] / floor
        verdict = "ok (≤ 1.3×)" if ratio <= 1.3 else "ok (≤ 1.5×)" if ratio <= 1.5 else "over the 1.5× target"
        print(f"{n}: {ratio:.2f}× the typer floor (wall), {cmed[n] / cfloor:.2f}× (CPU) — {verdict}")
    try:
        print(f"machine load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs (wall times are noisy when busy)")
    except OSError:
        pass


def _iqr(values: list[float]) -> float:
    if len(values) < 4:
        return 0.0
    q = statistics.quantiles(values, n=4)
    return q[2] - q[0]


if __name__ == "__main__":
    main()
