"""Network and served apps: TLS verification and protocol versions, SSH host keys, debug servers,
bind addresses, request timeouts and template autoescaping."""

from __future__ import annotations

import ast

from ..types import Finding
from .ast_edits import (
    append_argument,
    calls_at,
    dotted_name,
    drop_argument,
    is_constant,
    keyword_arg,
    line_indent,
    make_fix,
    nodes_at,
    qualified_name,
    quote_of,
    scope_of,
    string_literal,
    walk_scope,
)
from .base import Edit, Fix, FixContext

# --------------------------------------------------------------------------------------------
# TLS verification, served apps


def verify_certificates(ctx: FixContext, finding: Finding) -> Fix | None:
    """``verify=False`` in a requests/httpx call -> the keyword removed (certificates verified).

    Leaves alone: ``verify=`` with any other value (a CA bundle path, a variable)."""
    for call in calls_at(ctx, finding):
        verify = keyword_arg(call, "verify")
        if verify is not None and is_constant(verify.value, False):
            return make_fix(
                "verify-tls",
                finding,
                "verify=False removed (certificates are verified)",
                drop_argument(ctx, call, verify),
            )
    return None


def default_ssl_context(ctx: FixContext, finding: Finding) -> Fix | None:
    """``ssl._create_unverified_context()`` -> ``ssl.create_default_context()`` (also as a bare
    reference, e.g. assigned to ``ssl._create_default_https_context``).

    Leaves alone: calls with arguments (the two functions take different ones)."""
    for node in nodes_at(ctx, finding, ast.Attribute):
        if (
            not isinstance(node, ast.Attribute)
            or qualified_name(ctx, node) != "ssl._create_unverified_context"
        ):
            continue
        parent = ctx.parents.get(node)
        if isinstance(parent, ast.Call) and parent.func is node and (parent.args or parent.keywords):
            return None
        return make_fix(
            "ssl-default-context",
            finding,
            "ssl._create_unverified_context -> ssl.create_default_context",
            ctx.replace(node, f"{ctx.text(node.value)}.create_default_context"),
        )
    return None


def flask_debug_off(ctx: FixContext, finding: Finding) -> Fix | None:
    """``app.run(..., debug=True)`` -> ``debug=False`` (no interactive debugger on the server)."""
    for call in calls_at(ctx, finding):
        debug = keyword_arg(call, "debug")
        if (
            isinstance(call.func, ast.Attribute)
            and call.func.attr == "run"
            and debug is not None
            and is_constant(debug.value, True)
        ):
            return make_fix(
                "flask-debug-off", finding, "debug=True -> debug=False", ctx.replace(debug.value, "False")
            )
    return None


def bind_localhost(ctx: FixContext, finding: Finding) -> Fix | None:
    """``host="0.0.0.0"`` in a ``.run(...)`` call (Flask, uvicorn...) -> ``"127.0.0.1"``.

    Leaves alone: "0.0.0.0" anywhere else (socket binds, constants, configuration)."""
    for node in nodes_at(ctx, finding, ast.Constant):
        if not is_constant(node, "0.0.0.0"):
            continue
        parent = ctx.parents.get(node)
        call = ctx.parents.get(parent) if isinstance(parent, ast.keyword) else parent
        if not (
            isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "run"
        ):
            continue
        is_host = (isinstance(parent, ast.keyword) and parent.arg == "host") or (
            call.args and call.args[0] is node and dotted_name(call.func.value) not in ("uvicorn", "asyncio")
        )
        if is_host:
            quote = quote_of(ctx, node)
            return make_fix(
                "bind-localhost",
                finding,
                'host "0.0.0.0" -> "127.0.0.1"',
                ctx.replace(node, string_literal("127.0.0.1", quote)),
            )
    return None


# --------------------------------------------------------------------------------------------
# requests without timeout

_HTTP_METHODS = {"get", "post", "put", "patch", "delete", "head", "options", "request", "stream"}


def request_timeout(ctx: FixContext, finding: Finding) -> Fix | None:
    """``requests.get/post/...(...)`` without ``timeout=`` (or with ``timeout=None``) -> ``timeout=10``.

    Leaves alone: calls passing ``**kwargs`` (they may carry a timeout)."""
    for call in calls_at(ctx, finding):
        name = qualified_name(ctx, call.func) or ""
        module, _, method = name.rpartition(".")
        if module not in ("requests", "httpx") or method not in _HTTP_METHODS:
            continue
        if any(k.arg is None for k in call.keywords):
            return None
        timeout = keyword_arg(call, "timeout")
        if timeout is not None:
            if not is_constant(timeout.value, None):
                return None
            return make_fix(
                "request-timeout", finding, "timeout=None -> timeout=10", ctx.replace(timeout.value, "10")
            )
        return make_fix(
            "request-timeout", finding, "timeout=10 added", append_argument(ctx, call, "timeout=10")
        )
    return None


# --------------------------------------------------------------------------------------------
# TLS protocol versions, SSH host keys, template autoescaping

_OLD_PROTOCOLS = {"PROTOCOL_SSLv2", "PROTOCOL_SSLv3", "PROTOCOL_TLSv1", "PROTOCOL_TLSv1_1"}
_OLD_METHODS = {"SSLv2_METHOD", "SSLv3_METHOD", "SSLv23_METHOD", "TLSv1_METHOD", "TLSv1_1_METHOD"}


def modern_tls(ctx: FixContext, finding: Finding) -> Fix | None:
    """``ssl.PROTOCOL_SSLv2/SSLv3/TLSv1/TLSv1_1`` -> ``ssl.PROTOCOL_TLS_CLIENT``, or
    ``PROTOCOL_TLS_SERVER`` for a server (``server_side=True``, or a scope that loads a certificate
    chain); as ``ssl.wrap_socket``'s ``ssl_version`` a client gets ``ssl.PROTOCOL_TLS`` (the highest
    version both sides speak), because wrap_socket sets CERT_NONE, which a TLS_CLIENT context refuses.
    pyOpenSSL's ``SSL.SSLv2/SSLv3/SSLv23/TLSv1/TLSv1_1_METHOD`` -> ``SSL.TLS_METHOD``."""
    edits = []
    for node in nodes_at(ctx, finding, ast.Attribute):
        if (
            not isinstance(node, ast.Attribute)
            or node.lineno != finding.line
            and node.end_lineno != finding.line
        ):
            continue
        name = qualified_name(ctx, node) or ""
        if name.startswith("ssl.") and node.attr in _OLD_PROTOCOLS:
            call = ctx.parents.get(node)
            call = ctx.parents.get(call) if isinstance(call, ast.keyword) else call
            server = isinstance(call, ast.Call) and is_constant(
                getattr(keyword_arg(call, "server_side"), "value", None), True
            )
            server = server or any(
                isinstance(n, ast.Attribute) and n.attr == "load_cert_chain"
                for n in walk_scope(scope_of(ctx, node))
            )
            wrap = isinstance(call, ast.Call) and qualified_name(ctx, call.func) == "ssl.wrap_socket"
            new = "PROTOCOL_TLS_SERVER" if server else "PROTOCOL_TLS" if wrap else "PROTOCOL_TLS_CLIENT"
            edits.append(ctx.replace(node, f"{ctx.text(node.value)}.{new}"))
        elif name.startswith("OpenSSL.SSL.") and node.attr in _OLD_METHODS:
            edits.append(ctx.replace(node, f"{ctx.text(node.value)}.TLS_METHOD"))
    if not edits:
        return None
    return make_fix("modern-tls", finding, "old SSL/TLS protocol -> TLS (client or server)", *edits)


def ssh_reject_unknown_hosts(ctx: FixContext, finding: Finding) -> Fix | None:
    """``paramiko.AutoAddPolicy()`` / ``WarningPolicy()`` -> ``paramiko.RejectPolicy()``; in a
    ``client.set_missing_host_key_policy(...)`` statement of a module that loads no host keys,
    ``client.load_system_host_keys()`` is added before it (so known hosts still connect)."""
    for call in calls_at(ctx, finding):
        name = qualified_name(ctx, call.func) or ""
        if name not in (
            "paramiko.AutoAddPolicy",
            "paramiko.WarningPolicy",
            "paramiko.client.AutoAddPolicy",
            "paramiko.client.WarningPolicy",
        ):
            continue
        if isinstance(call.func, ast.Attribute):
            new = f"{ctx.text(call.func.value)}.RejectPolicy"
            imports: tuple[str, ...] = ()
        else:
            new, imports = "paramiko.RejectPolicy", ("import paramiko",)
        edits = [ctx.replace(call.func, new)]
        outer = ctx.parents.get(call)
        stmt = ctx.parents.get(outer) if outer is not None else None
        loads = any(
            isinstance(n, ast.Attribute) and n.attr in ("load_system_host_keys", "load_host_keys")
            for n in ast.walk(ctx.tree)
        )
        if (
            isinstance(outer, ast.Call)
            and isinstance(outer.func, ast.Attribute)
            and outer.func.attr == "set_missing_host_key_policy"
            and isinstance(stmt, ast.Expr)
            and dotted_name(outer.func.value) is not None
            and not loads
        ):
            indent = line_indent(ctx, stmt)
            if indent is not None:
                start = ctx.span(stmt)[0]
                edits.insert(
                    0, Edit(start, start, f"{ctx.text(outer.func.value)}.load_system_host_keys()\n{indent}")
                )
        return make_fix(
            "ssh-reject-policy",
            finding,
            "AutoAddPolicy -> RejectPolicy (known hosts only)",
            *edits,
            imports=imports,
        )
    return None


def jinja_autoescape(ctx: FixContext, finding: Finding) -> Fix | None:
    """``jinja2.Environment(...)`` without autoescaping (or ``autoescape=False``) -> ``autoescape=True``.

    Leaves alone: ``autoescape=`` set to anything else (a function such as select_autoescape)."""
    for call in calls_at(ctx, finding):
        name = qualified_name(ctx, call.func) or ""
        if name not in ("jinja2.Environment", "jinja2.Template", "jinja2.environment.Environment"):
            continue
        autoescape = keyword_arg(call, "autoescape")
        if autoescape is None:
            if any(k.arg is None for k in call.keywords):
                return None
            return make_fix(
                "jinja-autoescape",
                finding,
                "autoescape=True added",
                append_argument(ctx, call, "autoescape=True"),
            )
        if is_constant(autoescape.value, False):
            return make_fix(
                "jinja-autoescape", finding, "autoescape=False -> True", ctx.replace(autoescape.value, "True")
            )
        return None
    return None
