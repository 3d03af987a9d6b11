"""The lowest layer: the exception tree, the base of the value classes, shared type aliases."""
