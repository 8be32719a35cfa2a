"""A run as a file: JSON (Run.to_dict plus the human labels) or a Markdown report."""

from __future__ import annotations

import json

from patchloop.core.types import Run

from .format import verdict


def run_json(run: Run, labels: dict[int, str]) -> str:
    data = run.to_dict()
    data["labels"] = {str(index): label for index, label in sorted(labels.items())}
    return json.dumps(data, indent=2) + "\n"


def run_markdown(run: Run, labels: dict[int, str]) -> str:
    best = run.best_index
    title = f"patchloop run {run.id}" if run.id is not None else "patchloop run"
    out = [
        f"# {title}",
        "",
        f"- model: `{run.model}`",
        f"- analyzers: {run.analyzers} · threshold: {run.threshold} · t_max: {run.t_max}",
        f"- stop reason: {run.stop_reason or 'running'}",
        f"- best iteration: {'v' + str(best) if best is not None else 'none'}",
        "",
        "## Prompt",
        "",
        *[f"> {line}" if line else ">" for line in run.prompt.splitlines()],
    ]
    fence = "````" if any("```" in (it.code or "") for it in run.iterations) else "```"
    for it in run.iterations:
        marks = [verdict(it, run.threshold)]
        if it.index == best:
            marks.append("best")
        if it.index in labels:
            marks.append(labels[it.index])
        out += ["", f"## v{it.index} ({', '.join(marks)})", ""]
        if it.code is not None:
            out += [f"{fence}{run.language}", it.code.rstrip("\n"), fence, ""]
        elif it.response:
            out += ["No code block in the answer.", ""]
        for finding in it.findings:
            out.append(
                f"- line {finding.line}: **{finding.severity}** `{finding.tool}:{finding.rule_id}` {finding.message}"
            )
        for error in it.analyzer_errors:
            out.append(f"- analyzer error: {error}")
        if it.error and it.error != "cancelled":
            out.append(f"- model error: {it.error}")
    return "\n".join(out).rstrip("\n") + "\n"
