from django.urls import path

from layers import api

app_name = "layers"

urlpatterns = [
    path("api/layers/where/", api.WhereIsView.as_view(), name="where"),
    path("api/layers/versions/", api.LayerVersionList.as_view(), name="versions"),
    path("layers/basemap/<str:kind>.geojson", api.basemap, name="basemap"),
    path("layers/streets.geojson", api.streets, name="streets"),
    path("tiles/city.json", api.tilejson, name="tilejson"),
    path("tiles/city/<int:z>/<int:x>/<int:y>.pbf", api.tile, name="tile"),
    path("api/geocode/", api.geocode_view, name="geocode"),
    path("api/reverse/", api.reverse_view, name="reverse"),
]
