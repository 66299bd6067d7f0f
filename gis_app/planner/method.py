"""What the planner page says about how each figure is computed (shown under 'How it is computed' and kept
with every run, so a colleague reading an export knows what the numbers mean)."""

METHOD = {
    "repeat_locations": "A place with at least N requests of one type within the radius of one request's location "
    "in the period; places are taken greediest first and never share a request. 'Came back' counts requests filed "
    "after every earlier one there had been closed; 'reopened' counts requests reopened or followed up.",
    "hot_spots": "Getis-Ord Gi* (esda) on issue counts per H3 hexagon. Compared with an even spread over the city: "
    "every cell of the study area, empty ones included, equally likely; compared with the usual demand: the cells "
    "where any request was filed, each expected to hold the ward's rate of the chosen types spread like the "
    "ward's other requests (so a busy ward or street is not hot for being busy; a place where this problem stands "
    "out is). Neighbourhood: the cells within k rings plus the cell itself, binary weights. Two-sided p-values: "
    "the exact one for counts (a window's count is binomial given the total and the expected shares), and over "
    "the city also esda's normal one (the larger of the two, so neither sparse cells nor an uneven city are "
    "over-read); then Benjamini-Hochberg false-discovery control across all cells at the chosen alpha; "
    "confidence 99/95/90 % where the FDR-adjusted q is at most 0.01/0.05/0.10.",
    "emerging": "The last K weeks of each cell against its own earlier weeks: exact binomial test of equal weekly "
    "rates, Benjamini-Hochberg across cells with any request. New: hot (Gi*) in the recent weeks and not before; "
    "intensifying: hot in both and rising; persistent: hot in both with no significant change; diminishing: hot "
    "before and falling.",
}
