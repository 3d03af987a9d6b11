"""The client, its resource namespaces, the project pager and the report poller."""
