"""The Functions engine: builds, executions, events, schedules, dynamic keys, and the runtimes behind them."""
