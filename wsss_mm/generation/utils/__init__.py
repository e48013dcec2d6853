"""Pure functions of the generation package (no registry, no I/O)."""
