"""Probe the log and bad-input cases of the hardening list: each case runs the real command in a
child process against a temp config and database, and prints held/failed.

    python benchmarks/probe_bad_input.py [--only NAME] [--json]

"held" means: the documented exit code (2 bad input or config, 5 log unusable, 130 Ctrl-C), one
`error:` line on stderr (or "cancelled" for Ctrl-C), no traceback, and nothing finished lost. No
model is loaded: where a case needs one, the child answers from a fixed script. The exit status is
the number of failed cases.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PYTHON = sys.executable
MAIN = "import sys; from patchloop.cli import main; sys.argv[0] = 'patchloop'; main()"

# A child that answers from a script instead of a model; LOCK_AT=k takes the log's write lock (as
# another process would) while answer k is generated and holds it to the end.
SCRIPTED = r"""
import os, sqlite3, sys
import patchloop.cli_common as cli
from patchloop.cli import main
from patchloop.core.log import Log
from patchloop.core.types import BackendInfo

BAD = "```python\nimport subprocess\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n```"
OTHER = BAD.replace("call(cmd, shell=True)", "call(cmd + ' -l', shell=True)")

class Scripted:
    info = BackendInfo(backend="scripted", model="probe", device="cpu")
    def __init__(self):
        self.calls, self.holder = 0, None
    def generate(self, messages, params, cancel=None, stats=None):
        if self.calls == int(os.environ.get("LOCK_AT", "-1")):
            self.holder = sqlite3.connect(os.environ["PROBE_DB"], isolation_level=None)
            self.holder.execute("BEGIN EXCLUSIVE")
        self.calls += 1
        yield (BAD, OTHER)[min(self.calls - 1, 1)]
    def generate_batch(self, conversations, params, cancel=None, *, errors="raise"):
        return [("".join(self.generate(m, params)), None) for m in conversations]

backend = Scripted()
cli.load_model = lambda config, quiet=False: backend
cli.Log = lambda path: Log(path, busy_timeout=0.5)
sys.argv[0] = "patchloop"
main()
"""

WRITER = r"""
import sys
from patchloop.core.log import Log
from patchloop.core.types import Finding, Iteration, Run

log = Log(sys.argv[1], busy_timeout=30)
run = Run(prompt="writer", model="m", analyzers="all", t_max=3, threshold="note")
log.start_run(run)
for index in range(4):
    it = Iteration(index=index, prompt=[], code="x = %d\n" % index,
                   findings=[Finding("bandit", "B602", "error", "shell=True", 3)])
    log.add_iteration(run.id, it)
    run.iterations.append(it)
run.stop_reason = "t_max"
log.finish_run(run)
"""

BAD_CODE = "import subprocess\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n"


class Probe:
    def __init__(self, root: Path):
        self.root = root
        self.config = root / "config.toml"
        self.db = root / "log.db"
        self.env = {**os.environ, "PATCHLOOP_CONFIG": str(self.config), "PROBE_DB": str(self.db)}

    def fresh(self) -> None:
        for path in self.root.iterdir():
            if path.is_file():
                path.unlink()

    def cli(self, *args: str, db: Path | None = None, script: str = MAIN, timeout: float = 60, **env):
        return subprocess.run(
            [PYTHON, "-c", script, "--db", str(db or self.db), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
            env={**self.env, **env},
        )


def clean_error(result, code: int, needle: str = "") -> str | None:
    """None when the result held; otherwise why not."""
    if result.returncode != code:
        return f"exit {result.returncode}, expected {code}: {result.stderr.strip()[-200:]}"
    if "Traceback" in result.stderr:
        return "traceback on stderr"
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    if len(errors) != 1:
        return f"{len(errors)} error lines on stderr"
    if needle and needle not in errors[0]:
        return f"message lacks {needle!r}: {errors[0][:200]}"
    return None


def seed_runs(p: Probe, n: int = 40) -> None:
    from patchloop.core.log import Log
    from patchloop.core.types import Iteration, Run

    store = Log(p.db)
    for k in range(n):
        run = Run(prompt=f"prompt {k} " + "x" * 500, model="m", analyzers="all", t_max=3, threshold="note")
        store.start_run(run)
        store.add_iteration(run.id, Iteration(index=0, prompt=[], response="r" * 2000, code="y = 1\n" * 100))
        run.stop_reason = "clean"
        store.finish_run(run)
    store.close()


# -- the cases -------------------------------------------------------------------------------------


def concurrent_writers(p: Probe, fresh: bool) -> str | None:
    if not fresh:
        seed_runs(p, 1)
    failures = 0
    for _ in range(3):
        procs = [
            subprocess.Popen(
                [PYTHON, "-c", WRITER, str(p.db)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(6)
        ]
        failures += sum(1 for proc in procs if proc.wait(timeout=120) != 0)
    with sqlite3.connect(p.db) as conn:
        landed = conn.execute(
            "SELECT COUNT(*) FROM runs WHERE prompt = 'writer' AND n_iterations = 4 AND stop_reason = 't_max'"
        ).fetchone()[0]
    return None if failures == 0 and landed == 18 else f"{failures} writers failed, {landed}/18 runs landed"


def lock_mid_run(p: Probe) -> str | None:
    result = p.cli(
        "run",
        "-a",
        "security",
        "--no-autofix",
        "--candidates",
        "0",
        "--t-max",
        "1",
        "run a shell command",
        script=SCRIPTED,
        LOCK_AT="1",
    )
    why = clean_error(result, 5, "locked")
    if why:
        return why
    with sqlite3.connect(p.db) as conn:
        codes = [row[0] for row in conn.execute("SELECT code FROM iterations")]
    if codes != [BAD_CODE]:
        return f"v0 not in the log: {codes!r}"
    return None if "subprocess.call" in result.stdout else "the finished code was not printed"


def corrupt_pages(p: Probe) -> str | None:
    seed_runs(p)
    data = bytearray(p.db.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[3 * page : 6 * page] = os.urandom(3 * page)
    p.db.write_bytes(bytes(data))
    before = p.db.read_bytes()
    for args in (
        ["run", "write a function"],
        ["log"],
        ["log", "show", "1"],
        ["log", "label", "1", "0", "chosen"],
    ):
        why = clean_error(p.cli(*args, script=SCRIPTED), 5, "not a readable SQLite file")
        if why:
            return f"{args[0]}: {why}"
    return None if p.db.read_bytes() == before else "the corrupt file was written to"


def killed_runs(p: Probe) -> str | None:
    seed_runs(p, 2)
    old = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=3)).isoformat(timespec="seconds")
    with sqlite3.connect(p.db) as conn:  # run 2 was killed mid-way three days ago
        conn.execute("UPDATE runs SET stop_reason = NULL, created = ? WHERE id = 2", [old])
        conn.execute("UPDATE iterations SET created = ? WHERE run_id = 2", [old])
    listing = json.loads(p.cli("log", "--json").stdout)
    if not any(r["id"] == 2 and r["unfinished"] for r in listing):
        return "the killed run is not shown as unfinished"
    result = p.cli("log", "prune", "--unfinished", "--older-than", "1")
    if result.returncode != 0:
        return f"prune exited {result.returncode}"
    with sqlite3.connect(p.db) as conn:
        left = [row[0] for row in conn.execute("SELECT id FROM runs")]
        orphans = conn.execute(
            "SELECT COUNT(*) FROM iterations WHERE run_id NOT IN (SELECT id FROM runs)"
        ).fetchone()[0]
    return None if left == [1] and orphans == 0 else f"runs left {left}, orphan iterations {orphans}"


def locked_label(p: Probe) -> str | None:
    seed_runs(p, 1)
    holder = sqlite3.connect(p.db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        return clean_error(p.cli("log", "label", "1", "0", "chosen", script=SCRIPTED), 5, "locked")
    finally:
        holder.rollback()
        holder.close()


def analyze_bytes(content: bytes, needle: str) -> Callable[[Probe], str | None]:
    def case(p: Probe) -> str | None:
        path = p.root / "input.py"
        path.write_bytes(content)
        return clean_error(p.cli("analyze", str(path)), 2, needle)

    return case


def analyze_fifo(p: Probe) -> str | None:
    fifo = p.root / "pipe.py"
    os.mkfifo(fifo)
    try:
        return clean_error(p.cli("analyze", str(fifo), timeout=30), 2, "not a regular file")
    except subprocess.TimeoutExpired:
        return "hung"
    finally:
        fifo.unlink()


def analyze_dev_zero(p: Probe) -> str | None:
    try:
        return clean_error(p.cli("analyze", "/dev/zero", timeout=30), 2, "not a regular file")
    except subprocess.TimeoutExpired:
        return "hung"


def analyze_huge(p: Probe) -> str | None:
    path = p.root / "huge.py"
    with path.open("wb") as handle:
        handle.truncate(11 * 1024 * 1024)
    return clean_error(p.cli("analyze", str(path)), 2, "larger than 10 MB")


def prompt_latin1(p: Probe) -> str | None:
    path = p.root / "prompt.txt"
    path.write_bytes("Écris une fonction".encode("latin-1"))
    return clean_error(p.cli("run", "-f", str(path), script=SCRIPTED), 2, "not UTF-8")


def config_text(text: str, needle: str) -> Callable[[Probe], str | None]:
    def case(p: Probe) -> str | None:
        p.config.write_text(text, encoding="utf-8")
        return clean_error(p.cli("log"), 2, needle)

    return case


def config_set(key: str, value: str) -> Callable[[Probe], str | None]:
    def case(p: Probe) -> str | None:
        why = clean_error(p.cli("config", "set", key, value), 2, key.split(".")[-1])
        return why or ("the bad value was saved" if p.config.exists() else None)

    return case


def uncreatable_db(p: Probe) -> str | None:
    blocker = p.root / "a-file"
    blocker.write_text("not a folder")
    return clean_error(p.cli("log", db=blocker / "sub" / "log.db"), 5, "cannot create the folder")


def eval_out_unwritable(p: Probe) -> str | None:
    blocker = p.root / "a-file"
    blocker.write_text("not a folder")
    result = p.cli(
        "eval",
        "humaneval",
        "--canonical",
        "--tasks",
        "0",
        "--no-tests",
        "-a",
        "security",
        "--out",
        str(blocker / "r.md"),
        timeout=300,
    )
    why = clean_error(result, 2, "stored in the log")
    if why:
        return why
    again = p.cli("eval", "report", "1")
    return (
        None if again.returncode == 0 and "reference:humaneval" in again.stdout else "the results were lost"
    )


def ctrl_c_analyze(p: Probe) -> str | None:
    path = p.root / "code.py"
    path.write_text("import subprocess\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n")
    proc = subprocess.Popen(
        [PYTHON, "-c", MAIN, "--db", str(p.db), "analyze", "-a", "all", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=p.env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not _children(proc.pid):  # wait until the analyzers run
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stderr = proc.stderr.read()
    code = proc.wait(timeout=60)
    if code == 130 and "Traceback" not in stderr and "Aborted!" not in stderr:
        return None
    return f"exit {code}: {stderr.strip()[-200:]}"


def _children(pid: int) -> list[str]:
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    found = []
    for task in tasks:
        try:
            found += Path(f"/proc/{pid}/task/{task}/children").read_text().split()
        except OSError:
            pass
    return found


def app_key_clash(p: Probe) -> str | None:
    p.config.write_text('[keys]\ncompare = "c"\n', encoding="utf-8")
    try:
        result = subprocess.run(
            [PYTHON, "-c", MAIN, "--db", str(p.db)],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
            env=p.env,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return "the app opened"
    return clean_error(result, 2, "bound to both")


CASES: dict[str, Callable[[Probe], str | None]] = {
    "log: 18 concurrent writers, fresh database": lambda p: concurrent_writers(p, fresh=True),
    "log: 18 concurrent writers, existing database": lambda p: concurrent_writers(p, fresh=False),
    "log: lock taken mid-run keeps and prints v0, exit 5": lock_mid_run,
    "log: corrupt pages behind a good header, exit 5, not written": corrupt_pages,
    "log: killed run shown unfinished and pruned": killed_runs,
    "log: label on a locked database, exit 5": locked_label,
    "input: --db in a folder that cannot be created, exit 5": uncreatable_db,
    "input: analyze a binary file": analyze_bytes(
        b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)), "binary file"
    ),
    "input: analyze a latin-1 file": analyze_bytes('x = "caf\u00e9"\n'.encode("latin-1"), "not UTF-8"),
    "input: analyze a FIFO": analyze_fifo,
    "input: analyze /dev/zero": analyze_dev_zero,
    "input: analyze an 11 MB file": analyze_huge,
    "input: run -f with a latin-1 prompt": prompt_latin1,
    "input: config with loop = 5": config_text("loop = 5\n", "[loop] table"),
    "input: config with analyzer_timeout = -1": config_text(
        "[loop]\nanalyzer_timeout = -1\n", "analyzer_timeout"
    ),
    "input: config with a key-binding clash, the app refuses to open": app_key_clash,
    "input: config set loop.analyzer_timeout -1": config_set("loop.analyzer_timeout", "-1"),
    "input: config set loop.analyzer_timeout 0": config_set("loop.analyzer_timeout", "0"),
    "input: config set model.temperature -2": config_set("model.temperature", "-2"),
    "input: config set model.top_p 7": config_set("model.top_p", "7"),
    "input: config set model.max_new_tokens 0": config_set("model.max_new_tokens", "0"),
    "input: config set model.seed -5": config_set("model.seed", "-5"),
    "input: config set keys.compare c (clash)": config_set("keys.compare", "c"),
    "input: config set keys.no_such_binding z": config_set("keys.no_such_binding", "z"),
    "input: eval --out unwritable keeps the results": eval_out_unwritable,
    "signal: Ctrl-C in analyze, exit 130": ctrl_c_analyze,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="Run only the cases whose name contains this text.")
    parser.add_argument("--json", action="store_true", help="Print the results as JSON.")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="patchloop-probe-") as tmp:
        probe = Probe(Path(tmp))
        for name, case in CASES.items():
            if args.only and args.only not in name:
                continue
            probe.fresh()
            started = time.monotonic()
            try:
                why = case(probe)
            except Exception as exc:  # noqa: BLE001 -- a probe that breaks is a failed case, not a crashed probe
                why = f"probe error: {type(exc).__name__}: {exc}"
            results[name] = {"held": why is None, "why": why, "seconds": round(time.monotonic() - started, 1)}
            if not args.json:
                mark = "held  " if why is None else "FAILED"
                print(f"{mark} {name}" + (f"  -- {why}" if why else ""), flush=True)
    failed = sum(1 for r in results.values() if not r["held"])
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"\n{len(results) - failed}/{len(results)} held")
    return failed


if __name__ == "__main__":
    sys.exit(main())
