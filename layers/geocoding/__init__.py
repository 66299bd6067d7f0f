"""Forward geocoding on the street layer and the address grid: house addresses and intersections.

The reference is what the city's layers hold, never the 311 records: the street layer's named streets
(each street's points; each corner's street names), its address points and ranged centrelines, and the
address-grid model calibrated on them. A house address is an address point where one matches (kind
"point"), else interpolated on a ranged centreline, else placed on its street where the grid puts its
number (kind "interpolated"): along the street's own axis (its corners with the grid streets), or the
parallel grid streets' where it has none near the number, then inside the hundred-block where the block
profile fitted on the address points puts it, set back to its parity's side. "A & B" is the corner of the
two streets (kind "intersection"). A missing direction is resolved from the grid (7830 Luella exists only
south); when two places fit equally the answer is "ambiguous" with both candidates, never a silent pick.
Street names are matched exactly, then without the type, then by rapidfuzz against the layer's street
vocabulary (typos); partial input gets ranked completions (`suggest`). Ward from the ward layer; a point
outside the city is unmatched. `reverse_many` answers the other way in the same shape; `grid_ranges`
turns the grid into ranged centrelines for a city that has none.
"""

from layers.geocoding.base import GeocoderNotReady, Index, Result
from layers.geocoding.forward import assign_wards, geocode, geocode_many
from layers.geocoding.index import clear_cache, index, street_layer
from layers.geocoding.reverse import grid_ranges, reverse, reverse_many
from layers.geocoding.suggest import suggest

__all__ = [
    "GeocoderNotReady",
    "Index",
    "Result",
    "assign_wards",
    "clear_cache",
    "geocode",
    "geocode_many",
    "grid_ranges",
    "index",
    "reverse",
    "reverse_many",
    "street_layer",
    "suggest",
]
