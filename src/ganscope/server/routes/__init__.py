"""The server's routes, one router per OpenAPI tag, each built from the one ``ServerState``."""
