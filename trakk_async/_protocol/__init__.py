"""The Trakk protocol without I/O: arguments, URLs, error responses, the retry policy."""
