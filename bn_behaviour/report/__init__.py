"""Stage 4, where results go: the pytest summary, the per-target and merged JSON reports
(:mod:`.format`), ``bn-behaviour report`` (:mod:`.run`), the Markdown documents
(:mod:`.documents`), the HTML page (:mod:`.page`) and ``bn-behaviour diff`` (:mod:`.changes`).

Everything here reads reports; nothing runs a framework or holds an expectation.
"""
