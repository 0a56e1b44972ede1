"""Functions: ``handlers`` answers HTTP; ``model`` (functions, deployments, executions) and ``variables`` are
the model; the work behind them (builds, runs, schedules) is ``quixotic.server.compute``."""
