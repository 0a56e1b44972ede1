"""Deploy planning, pure: project states, their diff, and the plan as a value (ordered, renderable,
serialisable, hashable, checked for safety). No SDK and no SQLite are imported here."""
