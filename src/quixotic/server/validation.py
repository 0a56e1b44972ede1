"""Parameter checks shared by every service: one error shape, one permission grammar, and the input
limits every request is held to before a handler sees it.

Permissions are ``ACTION("ROLE")`` strings as the SDK's ``Permission`` and ``Role`` helpers write them.
``write`` is an alias that Appwrite expands when it stores permissions (utopia's ``Permission::aggregate``):
into whichever of ``create``, ``update`` and ``delete`` the resource allows, so ``write("users")`` on a row
or a file becomes ``update("users")`` + ``delete("users")``, and on a table, collection or bucket also
``create("users")``.

Bodies are capped per route while they are read (``spec.Operation.body_cap``): an upload at one chunk plus
its form's fields, a route whose parameters are all bounded (names, IDs, arrays of strings, ...) at twice
the most its parameters' limits let a valid body weigh written with JSON's widest escapes (at least 256 KiB),
and the routes that carry unbounded data (rows and documents, an execution's body, bulk operations) at
Appwrite's request size, 12 MB.

Limits. ``spec.bind`` runs :func:`check_param` on every parameter of every route, so a limit is set here
once, by the parameter's name and type, instead of in each handler. The numbers are Appwrite's where it
has one (the validator a route declares, e.g. ``Text(128)`` for names; ``app/init/constants.php``;
``app/http.php`` for the request size); the rest keep values to what JSON, SQLite and the SDKs carry:
strings of Unicode scalar values (no lone surrogates), finite numbers, integers of 64 bits, JSON nested
at most :data:`MAX_DEPTH` levels. Whatever passes can be stored and served back; whatever does not is a
400 ``general_argument_invalid`` that names the parameter, before anything is written.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any, Final

from quixotic.errors import ApiError

MAX_PERMISSIONS: Final = 100  # APP_LIMIT_ARRAY_PARAMS_SIZE

# --- limits ---------------------------------------------------------------------------------------

MAX_BODY: Final = 12 * 1024 * 1024  # app/http.php: Swoole's package_max_length (12 MB)
UPLOAD_CHUNK: Final = 5 * 1024 * 1024  # APP_LIMIT_UPLOAD_CHUNK_SIZE: the most file bytes one upload request holds
MULTIPART_OVERHEAD: Final = 2 * 1024 * 1024  # an upload's other fields (one may be MAX_MULTIPART_FIELD), part heads
MIN_JSON_CAP: Final = 256 * 1024  # the least cap of a JSON body: a value far over its limit is still named
MAX_MULTIPART_FIELD: Final = 1024 * 1024  # a non-file multipart field
MAX_MULTIPART_FIELDS: Final = 250  # permissions (100) and the route's own fields, with room to spare
MAX_MULTIPART_FILES: Final = 1  # storage and deployment uploads carry one file part
MAX_DEPTH: Final = 32  # JSON nesting (objects and arrays) in any parameter, and brackets in a form key
MAX_NUMBER_CHARS: Final = 100  # a JSON number literal longer than this is refused unparsed
MAX_ARRAY: Final = 100  # APP_LIMIT_ARRAY_PARAMS_SIZE
MAX_ARRAY_ELEMENT: Final = 4096  # APP_LIMIT_ARRAY_ELEMENT_SIZE
MAX_ASSOC: Final = 65535  # utopia's Assoc validator: the JSON of an object parameter (prefs, headers)
MAX_TEXT: Final = 65535  # strings whose Appwrite validator is Text(0): bounded by the request anyway
MAX_ID: Final = 36  # UID / CustomId: Database::getMaxUIDLength()
INT32: Final = (-(2**31), 2**31 - 1)
INT64: Final = (-(2**63), 2**63 - 1)
FLOAT_MAX: Final = 1.7976931348623157e308

# Text(N) of the routes' own validators, by parameter name; an ID parameter (``...Id``) is MAX_ID.
TEXT_LIMITS: Final[dict[str, int]] = {
    "name": 128,
    "search": 256,
    "password": 256,  # Auth\Validator\Password: 8 to 256 characters
    "passwordSalt": 128,
    "passwordSaltSeparator": 128,
    "passwordSignerKey": 128,
    "passwordVersion": 128,
    "entrypoint": 1028,
    "commands": 8192,
    "value": 8192,  # a variable's value
    "key": 255,  # Database::LENGTH_KEY (columns and indexes are held to 36 by ids.validate_key)
    "newKey": 255,
    "path": 2048,  # an execution's path
    "body": 10_485_760,  # an execution's body: Text(10485760)
    "scheduledAt": 100,
    "method": 16,
    "token": 512,
    "installationId": 128,
    "providerRepositoryId": 128,
    "providerBranch": 128,
    "providerRootDirectory": 128,
    "schedule": 256,
    "runtime": 128,
    "buildSpecification": 128,
    "runtimeSpecification": 128,
    "compression": 16,
    "background": 16,  # HexColor: a preview's colours (3 or 6 hex digits)
    "borderColor": 16,
}
# Where one route's validator differs from the name's usual one.
_ROUTE_TEXT_LIMITS: Final[dict[tuple[str, str], int]] = {
    ("storageCreateFile", "name"): 255,
    ("storageUpdateFile", "name"): 255,
}
_FORMAT_LIMITS: Final[dict[str, int]] = {"email": 254, "phone": 16, "url": 2048, "password": 256}
ARRAY_LIMITS: Final[dict[str, int]] = {
    "labels": 1000,  # APP_LIMIT_ARRAY_LABELS_SIZE
    "scopes": 200,  # APP_LIMIT_ARRAY_SCOPES_SIZE
    "rows": 1000,  # the bulk routes' own limit (rows_handlers.MAX_BULK)
    "documents": 1000,
    "operations": 1000,  # ArrayList(Operation) has no length; the route refuses over 100 itself
}
_ELEMENT_LIMITS: Final[dict[str, int]] = {"labels": 36}

ID_PATTERN: Final = r"[A-Za-z0-9][A-Za-z0-9._\-]{0,35}"
_ID_RE: Final = re.compile(ID_PATTERN)
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_CONTROL: Final = re.compile("[\x00-\x1f\x7f]")
_PERMISSION_RE: Final = re.compile(r'(read|create|update|delete|write)\("([^"]*)"\)')
_ROLE_RE: Final = re.compile(
    rf"(any|guests|users(/(verified|unverified))?|user:{ID_PATTERN}(/(verified|unverified))?"
    rf"|team:{ID_PATTERN}(/{ID_PATTERN})?|member:{ID_PATTERN}|label:[A-Za-z0-9]{{1,36}})"
)

# What each kind of resource may grant; ``write`` is accepted by all and expanded within these.
ITEM_ACTIONS: Final = ("read", "update", "delete")  # rows, documents, files
CONTAINER_ACTIONS: Final = ("create", "read", "update", "delete")  # tables, collections, buckets
_WRITE_EXPANDS_TO: Final = ("create", "update", "delete")


def invalid(name: str, why: str) -> ApiError:
    """Appwrite's error for a parameter its validator rejects."""
    return ApiError("general_argument_invalid", f"Invalid `{name}` param: {why}")


def permissions(value: Sequence[str] | None, actions: Sequence[str]) -> list[str] | None:
    """Check permission strings and store them as Appwrite does: ``write`` expanded, repeats dropped, in order.

    ``None`` (not given) stays ``None`` so that updates can tell "keep" from "clear".
    """
    if value is None:
        return None
    allowed = (*actions, "write")
    if len(value) > MAX_PERMISSIONS:
        raise invalid("permissions", f"Value must a valid array no longer than {MAX_PERMISSIONS} items")
    out: list[str] = []
    for text in value:
        m = _PERMISSION_RE.fullmatch(text) if isinstance(text, str) else None
        if m is None:
            raise invalid(
                "permissions",
                f'Permission {shown(text)} is invalid: expected ACTION("ROLE"), e.g. read("any"); '
                "use the SDK's Permission and Role helpers.",
            )
        action, role = m.groups()
        if action not in allowed:
            raise invalid("permissions", f'Permission "{action}" is not allowed. Must be one of: {", ".join(allowed)}.')
        if not _ROLE_RE.fullmatch(role):
            raise invalid("permissions", f"Role {shown(role)} is not valid in permission {shown(text)}.")
        granted = [a for a in _WRITE_EXPANDS_TO if a in actions] if action == "write" else [action]
        for name in granted:
            perm = f'{name}("{role}")'
            if perm not in out:
                out.append(perm)
    return out


def text(value: str | None, name: str, limit: int) -> str | None:
    """A string parameter of at most ``limit`` characters (``None``: not given)."""
    if value is not None and len(value) > limit:
        raise invalid(name, f"Value must be a valid string and no longer than {limit} chars")
    return value


def shown(value: Any) -> str:
    """A value (a path, a permission) quoted for an error message, cut short and with control characters escaped."""
    shown = json.dumps(value if isinstance(value, str) else str(value))
    return shown if len(shown) <= 80 else shown[:77] + '..."'


# --- JSON in ----------------------------------------------------------------------------------------


class Refused:
    """A JSON value the decoder would not build (NaN, Infinity, a number too long to parse): kept as a
    marker so the parameter that holds it is named in the error."""

    __slots__ = ("why",)

    def __init__(self, why: str) -> None:
        self.why = why


def _int(literal: str) -> int | Refused:
    if len(literal) > MAX_NUMBER_CHARS:
        return Refused(f"a number of {len(literal)} digits is longer than the {MAX_NUMBER_CHARS} allowed")
    return int(literal)


def _float(literal: str) -> float | Refused:
    if len(literal) > MAX_NUMBER_CHARS:
        return Refused(f"a number of {len(literal)} characters is longer than the {MAX_NUMBER_CHARS} allowed")
    value = float(literal)
    if not math.isfinite(value):
        return Refused(f"{literal} is beyond the range of a 64-bit float")
    return value


def _constant(name: str) -> Refused:
    return Refused(f"{name} is not a number JSON can carry")


def loads(raw: bytes | str, what: str = "the request body") -> Any:
    """Decode JSON without building what cannot be served back: NaN and Infinity, and number literals
    longer than :data:`MAX_NUMBER_CHARS`, become :class:`Refused` markers (named later by
    :func:`check_param`); nesting deep enough to exhaust the decoder is refused here."""
    try:
        return json.loads(raw, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except RecursionError:
        where = _deep_key(raw)
        raise ApiError(
            "general_argument_invalid",
            (f"Invalid `{where}` param: " if where else f"Invalid JSON in {what}: ")
            + f"JSON may be nested at most {MAX_DEPTH} levels deep",
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError("general_argument_invalid", f"Invalid JSON in {what}: {exc}") from None


def _deep_key(raw: bytes | str) -> str | None:
    """The top-level key under which ``raw`` nests deepest (only run on a body the decoder gave up on)."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    depth, in_string, escaped = 0, False, False
    key: str | None = None
    key_start: int | None = None
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"':
            in_string = True
            if depth == 1:
                key_start = i
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return key
        elif ch in "]}":
            depth -= 1
        elif ch == ":" and depth == 1 and key_start is not None:
            found = re.match(r'"((?:[^"\\]|\\.){1,64})"', text[key_start:i].rstrip())
            key = found.group(1) if found else key
    return key


# --- parameters -------------------------------------------------------------------------------------


def text_limit(op_id: str, name: str, fmt: str = "") -> int:
    """The most characters a string parameter may have on route ``op_id``."""
    if (op_id, name) in _ROUTE_TEXT_LIMITS:
        return _ROUTE_TEXT_LIMITS[(op_id, name)]
    if name in TEXT_LIMITS:
        return TEXT_LIMITS[name]
    if name.endswith("Id"):
        return MAX_ID
    return _FORMAT_LIMITS.get(fmt, MAX_TEXT)


def check_text(value: str, name: str, limit: int) -> str:
    """A string of at most ``limit`` characters, all of them Unicode scalar values."""
    if len(value) > limit:
        raise invalid(name, f"Value must be a valid string and no longer than {limit} chars")
    if _SURROGATE.search(value):
        raise invalid(name, "Value must be valid Unicode text: it holds a lone surrogate (\\ud800-\\udfff)")
    return value


def check_path_id(value: str, name: str) -> str:
    """An ID in the path is matched whole: no trailing newline, nothing but an ID's characters."""
    if not _ID_RE.fullmatch(value):
        raise invalid(
            name,
            "Parameter must contain at most 36 chars. Valid chars are a-z, A-Z, 0-9, period, hyphen, and "
            "underscore. Can't start with a special char",
        )
    return value


def check_path_text(value: str, name: str) -> str:
    """A key in the path (a column's, an index's): at most 255 characters, no control characters."""
    check_text(value, name, TEXT_LIMITS["key"])
    if _CONTROL.search(value):
        raise invalid(name, "Value must not contain control characters (CR, LF, NUL, ...)")
    return value


def check_integer(value: int, name: str, fmt: str) -> int:
    lo, hi = INT32 if fmt == "int32" else INT64
    if not lo <= value <= hi:
        raise invalid(name, f"Value must be a valid range between {lo:,} and {hi:,}".replace(",", ""))
    return value


def check_number(value: int | float, name: str) -> int | float:
    if isinstance(value, int):
        if abs(value) > FLOAT_MAX:
            raise invalid(name, "Value must be a valid number within the range of a 64-bit float")
        return value
    if not math.isfinite(value):
        raise invalid(name, "Value must be a finite number (not NaN or Infinity)")
    return value


def check_tree(value: Any, name: str, max_depth: int = MAX_DEPTH, *, int64: bool = True) -> None:
    """Everything in a JSON value is servable: strings of scalar values (keys too), finite numbers,
    integers of 64 bits (unless not ``int64``), nesting at most ``max_depth`` deep, no :class:`Refused`.

    Every row written passes here, so the plain JSON types are told apart by their exact type first (an
    ASCII string holds no surrogate); anything else, subclasses included, goes the ``isinstance`` way."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        kind = type(item)
        if kind is str:
            if not item.isascii():
                _check_text(item, name)
        elif kind is bool or item is None:
            continue
        elif kind is int:
            _check_int(item, name, int64)
        elif kind is float:
            _check_float(item, name)
        elif kind is dict or kind is list:
            _check_branch(item, name, depth, max_depth, stack)
        elif isinstance(item, str):
            _check_text(item, name)
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int):
            _check_int(item, name, int64)
        elif isinstance(item, float):
            _check_float(item, name)
        elif isinstance(item, Refused):
            raise invalid(name, item.why)
        elif isinstance(item, dict | list):
            _check_branch(item, name, depth, max_depth, stack)


def _check_text(item: str, name: str) -> None:
    if _SURROGATE.search(item):
        raise invalid(name, "Value must be valid Unicode text: it holds a lone surrogate (\\ud800-\\udfff)")


def _check_int(item: int, name: str, int64: bool) -> None:
    if int64 and not INT64[0] <= item <= INT64[1]:
        raise invalid(name, "integers must fit in 64 bits")


def _check_float(item: float, name: str) -> None:
    if not math.isfinite(item):
        raise invalid(name, "Value must be a finite number (not NaN or Infinity)")


def _check_branch(item: dict[Any, Any] | list[Any], name: str, depth: int, max_depth: int,
                  stack: list[tuple[Any, int]]) -> None:  # fmt: skip
    """A dict's or list's children onto ``stack``, once its depth and (a dict's) keys are checked."""
    if depth >= max_depth:
        raise invalid(name, f"JSON may be nested at most {max_depth} levels deep")
    if isinstance(item, dict):
        for key, child in item.items():
            if not isinstance(key, str) or (not key.isascii() and _SURROGATE.search(key)):
                raise invalid(name, "Object keys must be valid Unicode text")
            stack.append((child, depth + 1))
    else:
        stack.extend((child, depth + 1) for child in item)


def check_array(value: list[Any], name: str) -> list[Any]:
    """At most 100 items (Appwrite's array parameters; labels 1,000, scopes 200, bulk rows 1,000), each
    string item at most 4,096 characters (labels 36)."""
    limit = ARRAY_LIMITS.get(name, MAX_ARRAY)
    if len(value) > limit:
        raise invalid(name, f"Value must a valid array no longer than {limit} items")
    element = element_limit(name)
    for item in value:
        if isinstance(item, str) and len(item) > element:
            raise invalid(name, f"Each item must be a valid string and no longer than {element} chars")
    check_tree(value, name)
    return value


def element_limit(name: str) -> int:
    """The most characters of one string item of the array parameter ``name``."""
    return _ELEMENT_LIMITS.get(name, MAX_ARRAY_ELEMENT)


ASSOC_PARAMS: Final = ("prefs", "headers")  # key-value objects (utopia's Assoc)


def check_object(value: Any, name: str) -> Any:
    """An object parameter: a servable tree; prefs and headers a key-value object (PHP's empty array,
    ``[]``, is one too) of at most 65,535 characters of JSON."""
    check_tree(value, name)
    if name in ASSOC_PARAMS:
        if value == []:
            return {}
        if not isinstance(value, dict):
            raise invalid(name, "Value must be a valid object of keys and values")
        if len(encode(value)) > MAX_ASSOC:
            raise invalid(name, f"Value must be a valid object and no longer than {MAX_ASSOC} chars of JSON")
    return value


# --- JSON out ---------------------------------------------------------------------------------------


def scrub(value: Any) -> Any:
    """``value`` with every lone surrogate in its strings replaced by U+FFFD, for what code we run
    wrote (an execution's logs, errors and headers): text the server passes on, never refuses."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [scrub(item) for item in value]
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    return value


def encode(value: Any) -> bytes:
    """The JSON of an answer: strict (no NaN, no Infinity), UTF-8 that any client decodes. Raises
    ValueError (or UnicodeEncodeError, a ValueError) for what could not be served."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
