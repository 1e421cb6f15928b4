"""Running `bn-behaviour report` and talking to the terminal: the per-target processes, their plan,
progress and resume journal, the pytest side's record and summary, the answer printed at the end."""
