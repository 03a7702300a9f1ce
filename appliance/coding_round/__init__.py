"""Coding rounds of technical jobs: the tasks HR manages (`tasks`), candidates' drafts and
submissions (`work`), the worker job that judges them in the sandbox (`judging`), and what
the technical expert and HR see of the results (`results`). The sandbox and the measurements
themselves are in appliance/coding."""
