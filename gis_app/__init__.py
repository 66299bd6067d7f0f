"""gis_app: the project (settings, urls) and, from the request-lifecycle issue on, the request domain."""
