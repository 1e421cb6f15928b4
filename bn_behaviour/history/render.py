"""``docs/history.md``: the stored versions and, per release line, what changed along it.

A pure function of the store and ``versions.toml``: the table of environments (what ran, with which
versions; what could not run, and why), then per release line and target the recipes of
``fine-tuning.md`` version by version, the documented statements of ``rules.md`` (their verdict across
the versions, and the rows about them whose observation changes) and the other rows that change.
Rows that change the same way are listed together; a row is listed once, under the first statement
about it.  ``bn-behaviour history --check`` fails when the committed page is not this rendering.
"""

from __future__ import annotations

from collections import Counter
from typing import Optional

from ..cases.scenario import Scenario
from ..command.summary import FAULTS, STATUSES
from ..report.documents import cell, fault_text, row_link
from ..rules.recipes import RECIPES, Recipe
from ..rules.rulebook import STATEMENTS, Statement
from ..targets import TARGETS
from . import Version, windows
from .spans import MATRIX_OF, Point, changes, describe, key_of, names, row_points, spans, verdict_changes
from .store import KEYS, Stored

#: How many rows a group of rows that change together links before it says "and N more".
EXAMPLES = 3
#: How many groups one section lists before it counts the rest (keeps the page small).
MAX_GROUPS = 25
COMMAND = "bn-behaviour history --refresh reports/nox"


def environment_status(s: Optional[Stored]) -> str:
    """The status cell of an environment.

    >>> environment_status(None)
    'not stored yet: no report'
    >>> environment_status(Stored("s", "l", "t", unavailable="no wheel for Python 3.11"))
    'unavailable: no wheel for Python 3.11'
    >>> environment_status(Stored("s", "l", "t", {"keras": "3.0"}, {"git_revision": "0123456789", "harness": 2},
    ...                           rows={"cases": {"a": {"status": "pass"}, "b": {"status": "fail"}}}))
    'ran: 1 pass, 1 fail (suite 0123456)'
    """
    if s is None:
        return "not stored yet: no report"
    if s.stale:
        return (f"awaiting a re-run: measured with harness {s.harness} (suite "
                f"{(s.suite.get('git_revision') or '')[:7]}), whose rows are not today's; not compared")
    if not s.ran:
        return f"unavailable: {s.unavailable}"
    counts = Counter(r["status"] for r in s.records().values())
    known = [f"{counts[k]} {k}" for k in STATUSES if counts[k]]
    other = [f"{n} {k}" for k, n in sorted(counts.items()) if k not in STATUSES]
    revision = (s.suite.get("git_revision") or "")[:7]
    what = "ran the quick rows" if s.suite.get("rows") == "quick" else "ran"
    return f"{what}: {', '.join(known + other)}" + (f" (suite {revision})" if revision else "")


def environments(stored: list[Stored], table: list[Version]) -> list[str]:
    by_name = {s.session: s for s in stored}
    lines = ["## Environments", "", "One per `[[version]]` of `bn_behaviour/history/versions.toml`, with the versions"
             " its report recorded.", "", "| session | line | target | versions | status |", "|---|---|---|---|---|"]
    for v in table:
        s = by_name.get(v.session)
        versions = ", ".join(f"{k} {x}" for k, x in s.versions.items()) if s else ""
        lines.append(f"| {v.session} | {v.line} | {v.target} | {versions} | {environment_status(s)} |")
    return lines + [""]


def _group(sessions: list[Stored], ids: list[str]) -> list[str]:
    """Bullets of rows that change the same way (the same spans), the largest group first."""
    patterns: dict[str, list[str]] = {}
    for i in ids:
        patterns.setdefault(describe(spans(row_points(sessions, i))), []).append(i)
    ordered = sorted(patterns.items(), key=lambda kv: -len(kv[1]))
    lines = []
    for text, rows in ordered[:MAX_GROUPS]:
        links = ", ".join(row_link(i) for i in rows[:EXAMPLES])
        more = f" and {len(rows) - EXAMPLES} more" if len(rows) > EXAMPLES else ""
        lines.append(f"- **{len(rows)} row{'s' if len(rows) > 1 else ''}**: {text}: {links}{more}")
    rest = ordered[MAX_GROUPS:]
    if rest:
        lines.append(f"- and {len(rest)} more ways of changing ({sum(len(r) for _, r in rest)} rows):"
                     " `bn-behaviour history ROW` shows any row")
    return lines


def _recipe_point(recipe: Recipe, s: Stored) -> Point:
    r = s.record(recipe.row)
    if r is None:
        text = "not in this version's matrix"
    elif r["status"] in FAULTS:
        text = f"**no result**: {fault_text(r)}"
    else:
        word = "works" if recipe.outcome(r["observed"]) else "**does not work**"
        text = f"{word}: {cell(r, link=True)}"
    return Point(s.release, text, text)


def recipes(sessions: list[Stored], rule: str) -> list[str]:
    lines = ["### Recipes: does the guide's recipe work on my version?", "",
             "Each recipe of [`fine-tuning.md`](fine-tuning.md), version by version (\"works\": the outcome"
             " the recipe wants).", "", "| recipe | row | across the versions |", "|---|---|---|"]
    for recipe in RECIPES:
        # A row no session ran (an opt-in matrix's: the history's sessions run the default ones) has no line.
        if recipe.applies_to(rule) and any(s.record(recipe.row) is not None for s in sessions):
            text = describe(spans(_recipe_point(recipe, s) for s in sessions))
            lines.append(f"| [{recipe.title}](fine-tuning.md#{recipe.id}) | {row_link(recipe.row)} | {text} |")
    return lines + [""]


def statement_verdict(statement: Statement, s: Stored, about: list[str]) -> str:
    """One version's verdict on a statement (``about``: the IDs of its rows): holds, or broken on how many."""
    rows = broken = faulted = 0
    held = s.rows.get("cases", {})
    for i in about:
        if (r := held.get(i)) is not None:
            if r["status"] in FAULTS:
                faulted += 1
                continue
            rows += 1
            broken += bool(set(r["violated"]) & set(statement.checks))
    text = f"**broken** on {broken} of {rows} rows" if broken else f"holds ({rows} rows)"
    return text + (f", no result on {faulted}" if faulted else "")


def statements(sessions: list[Stored], rule: str, changed: list[str],
               scenarios: dict[str, Scenario]) -> tuple[list[str], set[str]]:
    """The statements' sections, and the changed rows they list."""
    lines = ["### Documented statements", "",
             "Each statement of [`rules.md`](rules.md): its verdict version by version, then the rows about it"
             " whose observation changes (a row is listed under the first statement about it).", ""]
    listed: set[str] = set()
    for st in STATEMENTS:
        if not st.applies_to(rule):
            continue
        about = [i for i, scenario in scenarios.items() if st.about(scenario)]
        verdicts = [Point(s.release, t, t) for s in sessions for t in [statement_verdict(st, s, about)]]
        mine = [i for i in changed if i not in listed and i in scenarios and st.about(scenarios[i])]
        listed.update(mine)
        lines += [f"#### [{st.id}](rules.md#{st.id})", "", f"Verdict: {describe(spans(verdicts))}.", ""]
        lines += (_group(sessions, mine) if mine else ["No row about it changes its observation."]) + [""]
    return lines, listed


def day_windows(target: str, sessions: list[Stored], found: list[windows.Window]) -> list[str]:
    """The changes ``bisect`` located to the day, between which stored versions, with the change that explains them."""
    mine = [w for w in found if w.target == target]
    lines = ["### When each change landed: day windows", "",
             "Where `bn-behaviour bisect` ran the changed rows on the daily builds between two stored versions"
             " (`bn_behaviour/history/windows.toml`): the last build that behaves like the older version and the"
             " first that does not, and, where the upstream history of that window explains it, the change.", ""]
    if not mine:
        return lines + ["None located yet: `bn-behaviour bisect ROW --target T --good V --bad W --record`.", ""]
    lines += ["| between | rows | window | days | change |", "|---|---|---|---|---|"]
    for w in mine:
        rows = ", ".join(row_link(i) for i in w.rows[:EXAMPLES]) + (
            f" and {len(w.rows) - EXAMPLES} more" if len(w.rows) > EXAMPLES else "")
        change = f"[{windows.short(w.change)}]({w.change})" if w.change else "not identified"
        lines.append(f"| {w.good} and {w.bad} | {len(w.rows)}: {rows} | {w.between().removeprefix('between ')} | "
                     f"{w.days} | {change}{' (' + w.note + ')' if w.note else ''} |")
    return lines + [""]


def line_section(line: str, target: str, sessions: list[Stored]) -> list[str]:
    description = TARGETS[target].description if target in TARGETS else target
    anchor, title = (line, line) if line == target else (f"{line}-{target}", f"{line} (target {target})")
    lines = [f'## <a id="{anchor}"></a>{title}: {description}', ""]
    lines += [f"Versions, in `versions.toml` order: {', '.join(names(s.release for s in sessions)) or 'none'}.", ""]
    if len(sessions) < 2:
        return lines + ["Fewer than two versions of this line are stored: nothing to compare yet.", ""]
    ids = list(dict.fromkeys(i for key in KEYS for i in sorted({i for s in sessions for i in s.rows.get(key, {})})))
    changed = [i for i in ids if changes(sessions, i)]
    verdict_only = sum(1 for i in ids if i not in set(changed) and verdict_changes(sessions, i))
    lines += [f"Of {len(ids)} rows, {len(changed)} change their observation along these versions (below); "
              f"{len(ids) - len(changed)} never do (not listed), {verdict_only} of which change only their"
              " verdict (status or known deviation).", ""]
    scenarios = {i: Scenario.from_id(i) for i in sorted({i for s in sessions for i in s.rows.get("cases", {})})}
    rule = TARGETS[target].rule if target in TARGETS else "tf2"
    lines += recipes(sessions, rule)
    lines += day_windows(target, sessions, windows.load())
    part, listed = statements(sessions, rule, changed, scenarios)
    lines += part
    recipe_rows = {r.row for r in RECIPES}
    others = [i for i in changed if i not in listed and i not in recipe_rows]
    lines += ["### Other rows", "", "Rows of no statement and no recipe whose observation changes, matrix by matrix"
              + ("." if others else ": none."), ""]
    for key in KEYS:
        mine = [i for i in others if key_of(sessions, i) == key]
        if mine:
            lines += [f"#### {MATRIX_OF[key].title or 'Main table'}", "", *_group(sessions, mine), ""]
    return lines


def history_md(stored: list[Stored], table: list[Version]) -> str:
    """The page: the environments, then each release line and target (in ``versions.toml`` order)."""
    lines = ["# The behaviour across versions", "",
             "The same matrices run on every version of each release line (`bn_behaviour/history/versions.toml`,"
             " one nox session each); for each line, what changes from one version to the next. A behaviour is"
             " shown as in [`behaviour.md`](behaviour.md) (mode / moving statistics / gamma-beta, and the"
             " verdict) with the first and last version it was seen in, named by the version of the target's"
             " implementation as its report recorded it: keras for Keras 3, tf_keras for Keras 2 (up to"
             " TensorFlow 2.15 that is TensorFlow's own tf.keras, whose keras 2.x version the report records"
             " under tf_keras). `bn-behaviour history ROW` prints one row across every stored version (`--json`"
             " for a script).", "",
             f"Generated from the store `bn_behaviour/history/data/` (`{COMMAND}`); do not edit: CI checks it"
             " is current (`bn-behaviour history --check`).", ""]
    lines += environments(stored, table)
    ran = [s for s in stored if s.ran]
    for line, target in dict.fromkeys((v.line, v.target) for v in table):
        lines += line_section(line, target, [s for s in ran if (s.line, s.target) == (line, target)])
    return "\n".join(lines)
