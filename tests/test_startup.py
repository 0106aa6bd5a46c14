"""Start-up stays cheap: what each command imports (no timing here; bench/startup.py measures).

--version and --help load no bank; a `grade` served by the cache imports neither yaml nor OpenCC, nor
rapidfuzz, rich, prompt_toolkit, fsrs or sqlite3, and only the English stemmer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
FIXTURE_BANK = Path(__file__).parent / "fixtures" / "bank"
HEAVY = ("yaml", "opencc", "rapidfuzz", "rich", "prompt_toolkit", "fsrs", "sqlite3", "snowballstemmer", "jieba")

# Run the CLI in-process, then report which top-level modules it imported and how it exited.
PROBE = """
import json, sys
code = 0
try:
    from llmprep.cli import main
    main()
except SystemExit as exc:
    code = exc.code or 0
sys.stdout.flush()
mods = {m.split(".")[0] for m in sys.modules} | {m for m in sys.modules if m.startswith("llmprep.")}
print("\\n@@" + json.dumps({"code": code, "modules": sorted(mods)}))
"""


def probe(home: Path, *args: str, bank: Path = FIXTURE_BANK) -> tuple[int, set[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMPREP_")}
    env.update(LLMPREP_HOME=str(home), LANG="C.UTF-8")
    out = subprocess.run([sys.executable, "-c", PROBE, "--no-builtin", "--bank", str(bank), *args],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    head, _, tail = out.stdout.rpartition("\n@@")
    info = json.loads(tail)
    return info["code"], set(info["modules"]), head


def test_version_and_help_load_no_bank(tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "questions.yaml").write_text("not: [valid")
    for args in (["--version"], ["--help"], ["grade", "--help"]):
        code, modules, _ = probe(tmp_path / "home", *args, bank=broken)
        assert code == 0, args
        assert not modules & {"yaml", "llmprep.loader", *HEAVY}, (args, modules & set(HEAVY))
    assert not (tmp_path / "home").exists()


def test_a_cached_grade_imports_nothing_heavy(tmp_path):
    home = tmp_path / "home"
    answer = "Each GPU talks only to its two neighbours on a ring: reduce-scatter then all-gather."
    first = probe(home, "grade", "dist-ring-allreduce", "--answer", answer, "--json")
    assert first[0] == 0 and "yaml" in first[1]  # parses the bank and fills the cache
    code, modules, out = probe(home, "grade", "dist-ring-allreduce", "--answer", answer, "--json")
    assert code == 0
    assert json.loads(out)["id"] == "dist-ring-allreduce"
    assert not modules & set(HEAVY), modules & set(HEAVY)
    assert "_llmprep_snowball" in modules  # the English stemmer alone
    # A traditional-Chinese answer needs OpenCC (traditional -> simplified), still no yaml ...
    code, modules, _ = probe(home, "grade", "dist-ring-allreduce", "--answer", "環上相鄰節點通信", "--json")
    assert code == 0 and "opencc" in modules and "yaml" not in modules
    # ... a simplified one, which OpenCC would leave alone, does not load it (tw2sp_keys.py).
    code, modules, _ = probe(home, "grade", "dist-ring-allreduce", "--answer", "环上相邻节点通信", "--json")
    assert code == 0 and not modules & set(HEAVY), modules & set(HEAVY)


def test_validate_reads_only_the_cache_header(tmp_path):
    home = tmp_path / "home"
    assert probe(home, "validate")[0] == 0
    code, modules, out = probe(home, "validate")
    assert code == 0 and out.strip() == "ok: 2 questions, 1 topics"
    assert not modules & {"yaml", "opencc", "rich"}
