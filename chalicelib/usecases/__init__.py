"""One module per use case. Use cases talk to the outside only through the ports in
``chalicelib.domain.ports``."""
