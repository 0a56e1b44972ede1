"""Commands as a library: one function per verb, returning values or raising QuixoticError; no printing.

The CLI (``quixotic.cli``) and the tests call the same functions.
"""
