"""Deterministic rewrite rules for Python findings (``PYTHON_RULES``): the one table of which rule
answers which findings.

Each rule answers the findings of one problem class (its ``tool:rule`` keys: bandit's B-ids, ruff's
codes, pylint's message ids, pyright's rule names) by looking at the flagged line's node in the one
parse of the original code and proposing edits of that node's text only; look-alikes elsewhere are
never touched. A rule returns None when the flagged code is not a shape it can rewrite without
changing what the code is meant to do (the model then gets the finding with a hint instead).

The rules live by problem class in ``*_rules`` modules (``ast_edits`` holds what they share); what
each does and leaves alone is in its docstring. Unused imports, f-strings without placeholders,
``is`` with literals, mutable defaults, pointless statements and unused local variables have no
rule here: ruff's own fixes handle those.
"""

from __future__ import annotations

from .api_rules import random_to_secrets, weak_hash, weak_hash_library, yaml_safe_load
from .base import Rule, RuleSet
from .except_rules import specific_exception
from .file_rules import mktemp_to_mkstemp, open_read_write, temp_dir_path
from .flow_rules import assert_to_raise, remove_unreachable, unused_loop_variable
from .import_rules import add_missing_import, star_import, star_import_use
from .network_rules import (
    bind_localhost,
    default_ssl_context,
    flask_debug_off,
    jinja_autoescape,
    modern_tls,
    request_timeout,
    ssh_reject_unknown_hosts,
    verify_certificates,
)
from .shell_rules import os_system_to_subprocess, subprocess_without_shell
from .sql_rules import sql_parameters

# Each rule with the finding keys it answers (a finding's own key or one of its ``also`` keys).
RULE_KEYS: tuple[tuple[Rule, tuple[str, ...]], ...] = (
    # Insecure library calls -> the safe call for the same job
    (yaml_safe_load, ("bandit:B506", "ruff:S506", "pyright:reportCallIssue", "pylint:E1120")),
    (random_to_secrets, ("bandit:B311", "ruff:S311")),
    (weak_hash, ("bandit:B324", "ruff:S324")),
    (weak_hash_library, ("bandit:B303", "ruff:S303")),
    # Shell commands -> argument lists
    (subprocess_without_shell, ("bandit:B602", "ruff:S602", "bandit:B604", "ruff:S604")),
    (os_system_to_subprocess, ("bandit:B605", "ruff:S605")),
    # Files and temporary paths
    (mktemp_to_mkstemp, ("bandit:B306", "ruff:S306")),
    (temp_dir_path, ("bandit:B108", "ruff:S108")),
    (open_read_write, ("ruff:SIM115", "pylint:R1732")),
    # Network and served apps
    (verify_certificates, ("bandit:B501", "ruff:S501")),
    (default_ssl_context, ("bandit:B323", "ruff:S323")),
    (flask_debug_off, ("bandit:B201", "ruff:S201")),
    (bind_localhost, ("bandit:B104", "ruff:S104")),
    (request_timeout, ("bandit:B113", "ruff:S113")),
    (modern_tls, ("bandit:B502", "ruff:S502", "bandit:B503", "ruff:S503")),
    (ssh_reject_unknown_hosts, ("bandit:B507", "ruff:S507")),
    (jinja_autoescape, ("bandit:B701", "ruff:S701")),
    # Swallowed exceptions, SQL
    (
        specific_exception,
        (
            "bandit:B110",
            "ruff:S110",
            "bandit:B112",
            "ruff:S112",
            "ruff:E722",
            "pylint:W0702",
            "pylint:W0718",
            "ruff:BLE001",
        ),
    ),
    (sql_parameters, ("bandit:B608", "ruff:S608")),
    # Control flow
    (remove_unreachable, ("pylint:W0101", "pyright:reportUnreachable")),
    (unused_loop_variable, ("pylint:W0612", "ruff:B007")),
    (assert_to_raise, ("bandit:B101", "ruff:S101")),
    # Imports
    (star_import, ("ruff:F403", "pylint:W0401")),
    (star_import_use, ("ruff:F405",)),
    (add_missing_import, ("ruff:F821", "pylint:E0602", "pyright:reportUndefinedVariable")),
)

PYTHON_RULES = RuleSet({key: rule for rule, keys in RULE_KEYS for key in keys})
