"""Ward lookups from the in-process index (issue 25) answer exactly as PostGIS does, on a literal little city:
inside, on the edge two wards share, just outside within the city's slack, far outside; and a new map in
force is a new index."""

from __future__ import annotations

import pytest

from layers import point_index
from layers.lookup import areas_at
from layers.models import LayerKind
from tests.conftest import collection, feature

pytestmark = pytest.mark.django_db

PLACES = [
    (0.5, 0.5),  # inside ward 1
    (1.5, 0.5),  # inside ward 2
    (1.0, 0.5),  # on the edge they share
    (0.0, 0.0),  # a corner of the city
    (2.0001, 0.5),  # about 11 m outside ward 2: within the slack
    (5.0, 5.0),  # far outside
]


def test_the_index_answers_as_postgis_does(two_square_wards, settings):
    point_index.clear()
    settings.LAYERS_IN_PROCESS_LOOKUP = False
    by_sql = areas_at(LayerKind.WARDS, PLACES, with_edge_distance=False)
    settings.LAYERS_IN_PROCESS_LOOKUP = True
    by_index = areas_at(LayerKind.WARDS, PLACES, with_edge_distance=False)
    assert by_index == by_sql
    assert [h.number for h in by_index[1]] == [1, 2, 1, 1, 2, None]
    assert by_index[1][2].also_covering == (2,)  # the edge went to PostGIS, and says so


def test_points_inside_one_ward_take_no_lookup_query(two_square_wards, django_assert_num_queries):
    point_index.clear()
    areas_at(LayerKind.WARDS, [(0.5, 0.5)], with_edge_distance=False)  # builds the index (one query)
    with django_assert_num_queries(0):  # the version in force is remembered too (layers.memo)
        _, hits = areas_at(LayerKind.WARDS, [(0.2, 0.2), (1.7, 0.9), (0.9, 0.1)], with_edge_distance=False)
    assert [h.number for h in hits] == [1, 2, 1]


def test_a_new_map_in_force_is_a_new_index(two_square_wards, load_wards):
    point_index.clear()
    assert areas_at(LayerKind.WARDS, [(0.5, 0.5)], with_edge_distance=False)[1][0].number == 1
    one_big = [[0.0, 0.0], [2.0, 0.0], [2.0, 1.0], [0.0, 1.0], [0.0, 0.0]]
    load_wards(collection(feature("7", one_big)), name="merged wards")
    version, hits = areas_at(LayerKind.WARDS, [(0.5, 0.5)], with_edge_distance=False)
    assert hits[0].number == 7 and version[1] == "merged wards"
