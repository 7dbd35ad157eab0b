"""The exit codes of every `imgpipe` command (documented in the README)."""

EXIT_OK = 0       # done (a run: finished; the model was pushed or the gate said no)
EXIT_FAILED = 1   # a step failed or was refused: a component, the data gate, a server
EXIT_USAGE = 2    # bad input found before anything ran: a flag, a config key, a path
