"""layers: the city's geography that is not a request (wards, community areas, and later addresses
and streets). The bottom of the import chain: it imports no other app of ours."""
