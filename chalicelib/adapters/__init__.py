"""One adapter per outside system. Each takes explicit constructor arguments and an injectable
client, and maps its vendor's errors to ``chalicelib.errors`` in one place."""
