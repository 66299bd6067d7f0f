"""Council ward maps and the standard 311 reports (issue 22): read-only pages over the stored requests.

It lives above routing because a ward page names the crew a request is with; the figures themselves are plain
SQL over the request table (`figures`)."""
