"""Scale benchmark: generated banks of 100 / 1,000 / 10,000 questions through the real CLI.

For each size, in fresh processes with an empty data dir:
  cold parse   `llmprep validate` with no cache (parses the YAML, checks it, writes the cache)
  cached       `llmprep validate` again (the cache key matches: no YAML parse)
  list         `llmprep list --json` on the cached bank
  batch        `llmprep grade --batch` of ROWS 300-character answers (5-point rubrics on average 4.5);
               answers/s end to end, and net of a one-row batch (start-up and bank load)
and peak RSS of each process (from wait4). Then a 1 MB answer graded in-process and through the CLI.

    python bench/scale.py                    # 100, 1000, 10000
    python bench/scale.py --sizes 100 1000 --rows 3000
    python bench/scale.py --json

Targets (issue 6): cached load + validate ≤ 1 s at 10,000; batch ≥ 3,000 answers/s; peak RSS ≤ 250 MB;
a 1 MB answer well under a second. A benchmark, not a test: read the figures with the machine's load in mind.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import genbank  # noqa: E402  (for big_answer's vocabulary only: banks are generated in subprocesses)


def llmprep_command() -> list[str]:
    script = Path(sys.executable).with_name("llmprep")
    return [str(script)] if script.exists() else [sys.executable, "-m", "llmprep"]


CPU: dict[str, float] = {}  # CPU seconds (user + sys, worker processes included) of the last run per label


def run(cmd: list[str], env: dict, stdin=None) -> tuple[float, float, bytes, int, float]:
    """(wall seconds, peak RSS MB of the largest process, stderr, exit code, CPU seconds) of one run."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, err, proc.returncode, usage.ru_utime + usage.ru_stime


def checked(cmd, env, what: str, ok=(0,)):
    wall, rss, err, code, cpu = run(cmd, env)
    if code not in ok:
        sys.exit(f"{what} failed ({code}): {err.decode(errors='replace')[-500:]}")
    CPU[what] = cpu
    return wall, rss


def big_answer(size: int = 1_000_000) -> str:
    """A 1 MB answer: English and Chinese technical prose, some of it matching rubric keywords."""
    vocab = genbank.concepts()
    import random

    rng = random.Random(3)
    parts, n = [], 0
    while n < size:
        en, zh = rng.choice(vocab)
        piece = rng.choice((en, zh, en + " and " + rng.choice(genbank.FILLER_EN), zh + "，" + rng.choice(genbank.FILLER_ZH)))
        parts.append(piece)
        n += len(piece) + 2
    return ". ".join(parts)[:size]


def measure(n: int, rows: int, work: Path, base: list[str]) -> dict:
    # Generated in another process: this one stays small, since a child's peak RSS (from wait4) counts
    # what it shared with its parent when it was forked.
    bank, batch = work / f"bank-{n}", work / f"batch-{n}.jsonl"
    subprocess.run([sys.executable, str(HERE / "genbank.py"), str(n), str(bank), "--answers", str(rows), str(batch)],
                   check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMPREP_")}
    env["LLMPREP_HOME"] = str(work / f"home-{n}")
    cli = base + ["--no-builtin", "--bank", str(bank)]
    res: dict = {"questions": n, "yaml_mb": round(sum(f.stat().st_size for f in bank.iterdir()) / 2**20, 1)}

    res["cold_validate_s"], res["cold_rss_mb"] = checked(cli + ["validate"], env, "cold validate")
    cached = [checked(cli + ["validate"], env, "cached validate") for _ in range(3)]
    res["cached_validate_s"] = min(w for w, _ in cached)
    res["cached_rss_mb"] = max(r for _, r in cached)
    res["cached_list_s"], _ = checked(cli + ["list", "--json"], env, "list")

    one = work / f"batch-{n}-one.jsonl"
    one.write_text(batch.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    # First run: compiles the rubrics the rows need and caches them; then the same rows again.
    res["batch_first_s"], first_rss = checked(cli + ["grade", "--batch", str(batch)], env, "batch")
    w1 = min(checked(cli + ["grade", "--batch", str(one)], env, "one-row batch")[0] for _ in range(2))
    c1 = CPU["one-row batch"]
    runs = []
    for _ in range(2):
        wall, rss = checked(cli + ["grade", "--batch", str(batch)], env, "batch")
        runs.append((wall, rss, CPU["batch"]))
    wall, rss, cpu = min(runs)
    res["batch_cpu_per_s"] = (rows - 1) / max(1e-9, min(c for _, _, c in runs) - c1)
    res["batch_rows"] = rows
    res["batch_s"] = wall
    res["batch_rss_mb"] = max(rss, first_rss)
    res["batch_first_per_s"] = rows / res["batch_first_s"]
    res["batch_per_s"] = rows / wall
    res["batch_net_per_s"] = (rows - 1) / max(1e-9, wall - w1)
    return res


def big_answer_times(work: Path, base: list[str]) -> dict:
    """A 1 MB answer: in-process grading time, and the whole `grade --answer-file` process."""
    bank = work / "bank-big"
    subprocess.run([sys.executable, str(HERE / "genbank.py"), "100", str(bank)], check=True)
    text = big_answer()
    path = work / "big-answer.txt"
    path.write_text(text, encoding="utf-8")
    timing = (
        "import sys, time, json; from pathlib import Path; from llmprep.bank import load_bank;"
        "from llmprep.grading import Grader; g = Grader(load_bank([Path(sys.argv[1])])); g.compiled('gen-00001');"
        "g.grade('gen-00001', 'warm up: 你好 all-reduce'); text = Path(sys.argv[2]).read_text(encoding='utf-8');"
        "t0 = time.perf_counter(); r = g.grade('gen-00001', text); dt = time.perf_counter() - t0;"
        "print(json.dumps([dt, r.score]))"
    )
    got = subprocess.run([sys.executable, "-c", timing, str(bank), str(path)], capture_output=True, text=True, check=True)
    inproc, score = json.loads(got.stdout)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMPREP_")}
    env["LLMPREP_HOME"] = str(work / "home-big")
    cli = base + ["--no-builtin", "--bank", str(bank), "grade", "gen-00001", "--json"]
    checked(cli + ["--answer", "warm the cache"], env, "grade")
    small = min(checked(cli + ["--answer", "all-reduce"], env, "grade")[0] for _ in range(3))
    wall, rss = checked(cli + ["--answer-file", str(path)], env, "1 MB grade")
    return {"chars": len(text), "in_process_s": inproc, "process_s": wall, "process_minus_small_s": wall - small,
            "rss_mb": rss, "score": round(score, 3)}


def growth(rows: list[dict], key: str) -> str:
    out = []
    for a, b in zip(rows, rows[1:]):
        if a[key] > 0:
            out.append(f"×{b[key] / a[key]:.1f}")
    return " ".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    ap.add_argument("--rows", type=int, default=6000, help="answers per batch run (default 6000)")
    ap.add_argument("--keep", metavar="DIR", help="write banks and batches here and keep them")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="llmprep-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    base = llmprep_command()
    try:
        results = [measure(n, args.rows, work, base) for n in args.sizes]
        big = big_answer_times(work, base)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps({"sizes": results, "big_answer": big}, indent=2))
        return
    print(f"{'questions':>9} {'YAML MB':>8} {'cold s':>7} {'cached s':>9} {'list s':>7} {'1st batch/s':>12}"
          f" {'batch/s':>8} {'net/s':>7} {'CPU/s':>7} {'RSS cold':>9} {'RSS cached':>10} {'RSS batch':>10}")
    for r in results:
        print(f"{r['questions']:>9} {r['yaml_mb']:>8} {r['cold_validate_s']:>7.2f} {r['cached_validate_s']:>9.3f}"
              f" {r['cached_list_s']:>7.3f} {r['batch_first_per_s']:>12.0f} {r['batch_per_s']:>8.0f} {r['batch_net_per_s']:>7.0f}"
              f" {r['batch_cpu_per_s']:>7.0f} {r['cold_rss_mb']:>8.0f}M {r['cached_rss_mb']:>9.0f}M {r['batch_rss_mb']:>9.0f}M")
    if len(results) > 1:
        print("growth per step:  cold", growth(results, "cold_validate_s"), "| cached", growth(results, "cached_validate_s"),
              "| RSS cold", growth(results, "cold_rss_mb"), "| RSS cached", growth(results, "cached_rss_mb"))
    print(f"batch: {args.rows} answers of 300 characters per run; '1st' compiles (and caches) the rubrics the rows"
          " need; batch/s is a later run, net/s without its start-up and bank load; CPU/s = answers per CPU-second"
          " (all processes), what one core does when the machine is not shared")
    try:
        print(f"machine load average now: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    except OSError:
        pass
    print(f"1 MB answer ({big['chars']:,} chars): {big['in_process_s'] * 1000:.0f} ms in-process, "
          f"{big['process_s'] * 1000:.0f} ms whole process ({big['process_minus_small_s'] * 1000:+.0f} ms over a short answer), "
          f"RSS {big['rss_mb']:.0f} MB")
    worst = results[-1]
    checks = [
        ("cached validate ≤ 1 s at the largest size", worst["cached_validate_s"] <= 1.0),
        ("batch ≥ 3,000 answers/s (net) at every size", all(r["batch_net_per_s"] >= 3000 for r in results)),
        ("peak RSS ≤ 250 MB", all(max(r["cold_rss_mb"], r["cached_rss_mb"], r["batch_rss_mb"]) <= 250 for r in results)),
        ("1 MB answer < 1 s in-process", big["in_process_s"] < 1.0),
    ]
    for name, ok in checks:
        print(f"  {'ok  ' if ok else 'MISS'} {name}")


if __name__ == "__main__":
    main()
