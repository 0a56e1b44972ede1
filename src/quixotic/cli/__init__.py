"""The ``quixotic`` command line: parses, calls the library, prints. Catches only QuixoticError."""
