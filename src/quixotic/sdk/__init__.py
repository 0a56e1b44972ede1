"""The one boundary between quixotic and the official ``appwrite`` SDK.

Nothing outside this package imports ``appwrite`` (an import-linter contract checks it): the rest of the
toolkit sees :class:`~quixotic.sdk.backend.AppwriteBackend`, whose SDK services are wrapped so that every
``AppwriteException`` becomes, once, the :class:`quixotic.errors.ApiError` subclass its status names
(``NotFound``, ``Conflict``, ``AccessDenied``, ...), with a message that says what was being done and
what to do about it. Callers test for those classes, never for status codes. The model (`config`,
`plan`) never imports this package: ``models`` turns the SDK's answers into its values.

- ``boundary``: :func:`call`, :func:`translate` and the wrapped :class:`Service`;
- ``transport``: the client's keep-alive session (one per client, every SDK line);
- ``backend``: one project on one endpoint: live state, schema and function writes, variables, paging;
- ``models``: SDK answers (dicts) -> config values.
"""
