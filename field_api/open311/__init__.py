"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2): residents' apps and other systems read the
city's services and requests and post new ones in the standard every 311 client speaks, in JSON or XML.

    GET  /open311/v2/discovery.{json|xml}
    GET  /open311/v2/services.{fmt}                    the service list
    GET  /open311/v2/services/{service_code}.{fmt}     a service's questions (its attributes)
    GET  /open311/v2/requests.{fmt}                    ?service_request_id= | service_code= start_date= status=…
    GET  /open311/v2/requests/{service_request_id}.{fmt}
    POST /open311/v2/requests.{fmt}                    api_key, service_code, lat+long | address_string, …

Reading needs no key and never returns anything personal: no reporter names, e-mail addresses or phone
numbers; e-mail addresses and phone numbers typed into a description are masked; sensitive service types
never appear. Posting needs an api_key (`manage.py issue_open311_key`) and goes through the same intake
function as staff (gis_app.intake): address_string is geocoded on the city's layers, then ward, department,
SLA due date, ticket, duplicate check and the reporter's acknowledgement. The service_request_id is the
request's universal ticket number. Errors are the spec's list of {code, description} with that HTTP status.
"""

from field_api.open311.keys import Open311Throttle
from field_api.open311.render import Open311Error, render
from field_api.open311.views import (
    as_open311,
    discovery,
    post_request,
    request_detail,
    service_definition,
    service_requests,
    services,
)

__all__ = [
    "Open311Error",
    "Open311Throttle",
    "as_open311",
    "discovery",
    "post_request",
    "render",
    "request_detail",
    "service_definition",
    "service_requests",
    "services",
]
