"""The city-data kit: tools around the product, not the product.

Loading a city's 311 history through its column mapping, replaying it as today's open work, the
synthetic history generator with its ground truth, the assumptions loader (holidays, SLAs, crew
minutes), learning dedup parameters from labelled pairs, and the demo's admin account. The request
domain (gis_app) never imports this package; it imports the domain.
"""
