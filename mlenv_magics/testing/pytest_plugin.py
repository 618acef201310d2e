"""pytest fixtures exposing the loopback fakes (registered through the ``pytest11`` entry point)."""
