"""The SDK's pure value builders, the only SDK names the rest of the toolkit uses directly.

They talk to no server and raise nothing of the SDK's: ``Query``, ``Permission``, ``Role`` and ``ID`` build
strings, ``PasswordHash`` and ``ExecutionMethod`` are enums, ``InputFile`` wraps bytes or a path to upload.
"""

from appwrite.enums.execution_method import ExecutionMethod
from appwrite.enums.password_hash import PasswordHash
from appwrite.id import ID
from appwrite.input_file import InputFile
from appwrite.permission import Permission
from appwrite.query import Query
from appwrite.role import Role

__all__ = ["ID", "ExecutionMethod", "InputFile", "PasswordHash", "Permission", "Query", "Role"]
