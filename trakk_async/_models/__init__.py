"""Values and decoding: the attrs models of every API object, the content schemes, and
the one cattrs converter."""
