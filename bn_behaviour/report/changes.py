"""``bn-behaviour diff OLD.json NEW.json``: what changed between two runs.

Reads per-target reports (``--bn-report``) or merged ones (``behaviour.json``),
pairs cases by target and scenario ID, and lists every scenario whose observed
behaviour changed, grouped by the rule (check) the changed observation
belongs to.  Error messages are compared by exception class, so rewording a
message is not a change of behaviour.  Exit status 1 when anything changed, so
CI can gate a release on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .format import keyed_cases, target_entries
from .pages import row_link
from .reading import ReportFileError
from .reading import load as load_report

#: Observation field -> the check (``bn_behaviour.rules.CHECKS``) it belongs to.
FIELD_RULE = {
    "error": "no_error",
    "variable_dtypes": "variables_float32",
    "statistics": "statistics",
    "mode": "mode",
    "moving_stats": "moving_stats",
    "affine": "affine",
    "trainable_weights": "weight_lists",
    "non_trainable_weights": "weight_lists",
    "model_trainable_weights": "weight_lists",
}


class ReportError(Exception):
    """A file that is not a bn-behaviour report (one line, for the CLI)."""


@dataclass(frozen=True)
class Change:
    target: str
    id: str
    rule: str  #: a check name, "status", "added" or "removed"
    old: str
    new: str

    def line(self) -> str:
        return f"{self.target} {self.id}: {self.old} -> {self.new}"


def load(path: str) -> tuple[dict[tuple[str, str], dict], dict[str, dict]]:
    """Cases keyed by (target, case ID), and each target's description."""
    try:
        data = load_report(path)
    except ReportFileError as e:
        raise ReportError(str(e)) from None
    return keyed_cases(data), target_entries(data)


def _value(observed: dict, key: str) -> str:
    """
    >>> _value({"error": "ValueError: Unknown variable <x>"}, "error")
    'ValueError'
    >>> _value({"trainable_weights": ["beta", "gamma"]}, "trainable_weights")
    '[beta, gamma]'
    """
    v = observed.get(key)
    if key == "error":
        return v.split(":")[0] if v else "none"
    if isinstance(v, list):
        return "[" + ", ".join(v) + "]"
    return str(v)


def compare(old: dict, new: dict) -> list[Change]:
    """Every change between two keyed case sets.

    >>> a = {("t", "s"): {"observed": {"mode": "inference"}, "status": "pass"}}
    >>> b = {("t", "s"): {"observed": {"mode": "training"}, "status": "deviation"}}
    >>> [c.line() for c in compare(a, b)]
    ['t s: inference -> training', 't s: pass -> deviation']
    >>> compare(a, a)
    []
    """
    out = []
    for key in sorted(old.keys() | new.keys()):
        target, sid = key
        if key not in new:
            out.append(Change(target, sid, "removed", "in old", "absent"))
            continue
        if key not in old:
            out.append(Change(target, sid, "added", "absent", "in new"))
            continue
        o, n = old[key]["observed"], new[key]["observed"]
        fields = {**FIELD_RULE, **{f: "workflow" for f in sorted((o.keys() | n.keys()) - FIELD_RULE.keys())}}
        for field, rule in fields.items():
            if field in o or field in n:
                before, after = _value(o, field), _value(n, field)
                if before != after:
                    out.append(Change(target, sid, rule, before, after))
        if old[key]["status"] != new[key]["status"]:
            out.append(Change(target, sid, "status", old[key]["status"], new[key]["status"]))
    return out


def pair_targets(old: dict, new: dict) -> tuple[dict, dict]:
    """Two single-target reports of different targets are compared with each other."""
    old_names, new_names = {t for t, _ in old}, {t for t, _ in new}
    if len(old_names) == len(new_names) == 1 and old_names != new_names:
        label = f"{old_names.pop()}->{new_names.pop()}"
        return ({(label, i): c for (_, i), c in old.items()}, {(label, i): c for (_, i), c in new.items()})
    return old, new


def render(changes: list[Change], old_targets: dict, new_targets: dict, markdown: bool = False) -> str:
    def versions(targets):
        return "; ".join(f"{n}: " + ", ".join(f"{k} {v}" for k, v in t.get("versions", {}).items())
                         for n, t in targets.items())

    scenarios = {(c.target, c.id) for c in changes}
    if markdown:
        lines = [f"- old: {versions(old_targets)}", f"- new: {versions(new_targets)}", ""]
    else:
        lines = [f"old: {versions(old_targets)}", f"new: {versions(new_targets)}", ""]
    if not changes:
        return "\n".join(lines + ["no observed behaviour changed"]) + "\n"
    lines.append(f"{len(scenarios)} scenarios changed")
    groups: dict[str, list[Change]] = {}
    for c in changes:
        groups.setdefault(c.rule, []).append(c)
    for rule, items in groups.items():
        lines += ["", f"### {rule} ({len(items)})", ""] if markdown else [f"{rule} ({len(items)}):"]
        lines += [(f"- `{c.target}` {row_link(c.id)}: {c.old} -> {c.new}" if markdown
                   else f"  {c.line()}") for c in items]
    return "\n".join(lines) + "\n"


def main(args) -> int:
    old, old_targets = load(args.old)
    new, new_targets = load(args.new)
    changes = compare(*pair_targets(old, new))
    print(render(changes, old_targets, new_targets, markdown=args.markdown), end="")
    return 1 if changes else 0
