"""Insecure library calls -> the safe call for the same job: ``yaml.load`` -> ``yaml.safe_load``,
``random`` -> ``secrets.SystemRandom``, MD5/SHA-1 -> SHA-256 (or ``usedforsecurity=False`` where the
task asks for that digest)."""

from __future__ import annotations

import ast
import re

from ..types import Finding
from .ast_edits import (
    append_argument,
    calls_at,
    dotted_name,
    drop_argument,
    has_star_args,
    keyword_arg,
    make_fix,
    qualified_name,
    quote_of,
    statement_of,
    string_literal,
)
from .base import Fix, FixContext

# --------------------------------------------------------------------------------------------
# yaml.load -> yaml.safe_load

_SAFE_LOADERS = {"SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader"}


def yaml_safe_load(ctx: FixContext, finding: Finding) -> Fix | None:
    """``yaml.load(s[, Loader=...])`` / ``yaml.load_all`` -> ``yaml.safe_load(s)`` / ``safe_load_all``.

    Leaves alone: calls with a safe loader already, ``*args``/``**kwargs``, extra arguments."""
    for call in calls_at(ctx, finding):
        name = qualified_name(ctx, call.func)
        if name not in ("yaml.load", "yaml.load_all") or has_star_args(call):
            continue
        loader = keyword_arg(call, "Loader") or (call.args[1] if len(call.args) > 1 else None)
        if isinstance(loader, ast.keyword):
            loader_value = loader.value
        else:
            loader_value = loader
        if loader_value is not None and (dotted_name(loader_value) or "").split(".")[-1] in _SAFE_LOADERS:
            return None
        others = [k for k in call.keywords if k.arg not in ("Loader", "stream")]
        if len(call.args) > 2 or others or (not call.args and not keyword_arg(call, "stream")):
            return None
        safe = "safe_load" if name == "yaml.load" else "safe_load_all"
        edits = []
        imports: tuple[str, ...] = ()
        if isinstance(call.func, ast.Attribute):
            edits.append(ctx.replace(call.func, f"{ctx.text(call.func.value)}.{safe}"))
        else:
            edits.append(ctx.replace(call.func, f"yaml.{safe}"))
            imports = ("import yaml",)
        if loader is not None:
            edits.append(drop_argument(ctx, call, loader))
        return make_fix(
            "yaml-safe-load", finding, f"yaml.{name.split('.')[-1]} -> yaml.{safe}", *edits, imports=imports
        )
    return None


# --------------------------------------------------------------------------------------------
# random -> secrets

_RANDOM_METHODS = {
    "random",
    "randint",
    "randrange",
    "choice",
    "choices",
    "sample",
    "uniform",
    "shuffle",
    "getrandbits",
    "randbytes",
    "triangular",
    "gauss",
    "normalvariate",
    "betavariate",
    "expovariate",
    "gammavariate",
    "lognormvariate",
    "vonmisesvariate",
    "paretovariate",
    "weibullvariate",
    "binomialvariate",
}


def _seeds_random(ctx: FixContext) -> bool:
    for node in ast.walk(ctx.tree):
        if isinstance(node, ast.Call):
            name = qualified_name(ctx, node.func) or ""
            if name in ("random.seed", "random.setstate", "numpy.random.seed"):
                return True
            if name == "random.Random" and (node.args or node.keywords):
                return True
    return False


def random_to_secrets(ctx: FixContext, finding: Finding) -> Fix | None:
    """``random.X(...)`` (also ``from random import X``) -> ``secrets.SystemRandom().X(...)``;
    ``random.Random()`` -> ``secrets.SystemRandom()``.

    Leaves alone: modules that seed the generator (``random.seed``, ``random.Random(seed)``):
    they want a reproducible sequence."""
    if _seeds_random(ctx):
        return None
    for call in calls_at(ctx, finding):
        name = qualified_name(ctx, call.func) or ""
        module, _, method = name.rpartition(".")
        if module != "random":
            continue
        if method == "Random":
            if call.args or call.keywords:
                return None
            return make_fix(
                "secrets-random",
                finding,
                "random.Random() -> secrets.SystemRandom()",
                ctx.replace(call.func, "secrets.SystemRandom"),
                imports=("import secrets",),
            )
        if method not in _RANDOM_METHODS:
            continue
        return make_fix(
            "secrets-random",
            finding,
            f"random.{method} -> secrets.SystemRandom().{method}",
            ctx.replace(call.func, f"secrets.SystemRandom().{method}"),
            imports=("import secrets",),
        )
    return None


# --------------------------------------------------------------------------------------------
# Weak hashes

_PASSWORD = re.compile(r"passw|passwd|pwd|password", re.IGNORECASE)
_WEAK = {"md5": re.compile(r"\bmd-?5\b", re.IGNORECASE), "sha1": re.compile(r"\bsha-?1\b", re.IGNORECASE)}


def _password_context(ctx: FixContext, call: ast.Call) -> bool:
    texts = [ctx.text(call)]
    stmt = statement_of(ctx, call)
    if stmt is not None and not isinstance(
        stmt,
        (
            ast.If,
            ast.For,
            ast.AsyncFor,
            ast.While,
            ast.With,
            ast.AsyncWith,
            ast.Try,
            ast.FunctionDef,
            ast.AsyncFunctionDef,
            ast.ClassDef,
            ast.Match,
        ),
    ):
        texts.append(ctx.text(stmt))
    function = ctx.enclosing_function(call)
    if function is not None:
        texts.append(function.name)
        texts += [a.arg for a in ast.walk(function.args) if isinstance(a, ast.arg)]
    return any(_PASSWORD.search(t) for t in texts)


def weak_hash(ctx: FixContext, finding: Finding) -> Fix | None:
    """``hashlib.md5/sha1(...)``, ``hashlib.new("md5"|"sha1", ...)``: where the task asks for that
    digest -> ``usedforsecurity=False`` added; elsewhere -> SHA-256.

    Leaves alone: password hashing (names with password/passwd/pwd: that needs a salted password
    hash, not a faster digest) and calls that already pass ``usedforsecurity``."""
    for call in calls_at(ctx, finding):
        name = qualified_name(ctx, call.func) or ""
        if name in ("hashlib.md5", "hashlib.sha1"):
            algorithm = name.split(".")[1]
            algo_node = None
        elif (
            name == "hashlib.new"
            and call.args
            and isinstance(call.args[0], ast.Constant)
            and str(call.args[0].value).lower() in _WEAK
        ):
            algorithm = str(call.args[0].value).lower()
            algo_node = call.args[0]
        else:
            continue
        if keyword_arg(call, "usedforsecurity") or has_star_args(call):
            return None
        if _WEAK[algorithm].search(ctx.task or ""):
            return make_fix(
                "hash-not-for-security",
                finding,
                f"{algorithm}: usedforsecurity=False (the task asks for it)",
                append_argument(ctx, call, "usedforsecurity=False"),
            )
        if _password_context(ctx, call):
            return None
        if algo_node is not None:
            edit = ctx.replace(algo_node, string_literal("sha256", quote_of(ctx, algo_node)))
            return make_fix("hash-sha256", finding, f'hashlib.new("{algorithm}") -> "sha256"', edit)
        if isinstance(call.func, ast.Attribute):
            return make_fix(
                "hash-sha256",
                finding,
                f"hashlib.{algorithm} -> hashlib.sha256",
                ctx.replace(call.func, f"{ctx.text(call.func.value)}.sha256"),
            )
        return make_fix(
            "hash-sha256",
            finding,
            f"{algorithm} -> hashlib.sha256",
            ctx.replace(call.func, "hashlib.sha256"),
            imports=("import hashlib",),
        )
    return None


def weak_hash_library(ctx: FixContext, finding: Finding) -> Fix | None:
    """cryptography's ``hashes.MD5()/SHA1()`` -> ``hashes.SHA256()``; PyCryptodome's ``MD5.new(...)``
    / ``SHA.new`` (imported from ``Crypto.Hash``/``Cryptodome.Hash``) -> ``SHA256.new(...)``.

    Leaves alone: password contexts and tasks that ask for that digest."""
    for call in calls_at(ctx, finding):
        name = qualified_name(ctx, call.func) or ""
        parts = name.split(".")
        if len(parts) < 2:
            continue
        weak = parts[-1] in ("MD5", "SHA1", "MD4", "MD2") and parts[0] == "cryptography"
        crypto = (
            parts[-1] == "new"
            and parts[-2] in ("MD5", "SHA", "SHA1", "MD4", "MD2")
            and parts[0] in ("Crypto", "Cryptodome")
        )
        if not (weak or crypto):
            continue
        algorithm = "md5" if "MD5" in parts[-2:] else "sha1"
        if _password_context(ctx, call) or _WEAK[algorithm].search(ctx.task or "") or algorithm not in _WEAK:
            return None
        if weak and isinstance(call.func, ast.Attribute):
            return make_fix(
                "hash-sha256",
                finding,
                f"{parts[-1]} -> SHA256",
                ctx.replace(call.func, f"{ctx.text(call.func.value)}.SHA256"),
            )
        if crypto and isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name):
            package = ".".join(parts[:-2])
            return make_fix(
                "hash-sha256",
                finding,
                f"{parts[-2]} -> SHA256",
                ctx.replace(call.func.value, "SHA256"),
                imports=(f"from {package} import SHA256",),
            )
        return None
    return None
