"""A case that crashes or hangs costs one case, never the run: the guard (guard.py), what ended a
process (faults.py), the supervisor without xdist (supervisor.py), where a case's time goes
(timing.py), and what frameworks print kept off stdout (stdout_guard.py)."""
