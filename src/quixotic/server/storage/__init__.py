"""Storage: buckets and files. ``handlers`` answers HTTP; ``buckets``, ``files`` and ``ranges`` are the model."""
