"""Users: ``handlers`` answers HTTP; ``model`` holds validation, password hashing and the user records."""
