"""The execution engine of Appwrite Functions: deployment builds and warm worker processes.

``build.build_deployment`` turns an uploaded archive into ``code/`` + ``venv/``; ``pool.Runtimes`` keeps warm
``harness`` processes per deployment and runs executions on them with the Open Runtimes v5 Python contract.
"""

from quixotic.server.compute.runtime.build import BuildResult, build_deployment
from quixotic.server.compute.runtime.environment import installer_env
from quixotic.server.compute.runtime.pool import RuntimeRequest, RuntimeResponse, Runtimes, WorkerPool

__all__ = [
    "BuildResult",
    "RuntimeRequest",
    "RuntimeResponse",
    "Runtimes",
    "WorkerPool",
    "build_deployment",
    "installer_env",
]
