"""routing: crews, the street network, travel-time matrices and the OR-Tools solver. Imports layers and gis_app only."""
