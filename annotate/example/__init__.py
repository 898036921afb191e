"""The bundled synthetic example (see :mod:`annotate.example.generate`)."""

from safecal.annotate.example.generate import NOTICE, ExamplePaths, write_example

__all__ = ["NOTICE", "ExamplePaths", "write_example"]
