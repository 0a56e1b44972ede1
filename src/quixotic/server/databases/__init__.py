"""Databases (TablesDB and the legacy API): ``handlers`` and ``rows_handlers`` answer HTTP; ``model``
(databases, tables, columns, indexes), ``rows`` and ``columns`` are the model; ``flavor`` renames between APIs."""
