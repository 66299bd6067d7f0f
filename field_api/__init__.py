"""field_api: crew tablet API, Open311 GeoReport v2, token auth. The top of the import chain."""
