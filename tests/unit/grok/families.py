"""Examples of the library families beyond the core (one module per family would be
noise): for each pattern, lines it matches exactly and lines it rejects, and for each
family at least one real-world line from the software's own documentation (``DOC_*``)."""

from __future__ import annotations

# -- haproxy: HAProxy configuration manual, 8.2.2 (TCP) and 8.2.3 (HTTP log format) ------
DOC_HAPROXY_HTTP = (
    "Feb  6 12:14:14 localhost haproxy[14389]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] "
    "http-in static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {1wt.eu} {} "
    '"GET /index.html HTTP/1.1"'
)
DOC_HAPROXY_TCP = (
    "Feb  6 12:12:56 localhost haproxy[14387]: 10.0.1.2:33313 [06/Feb/2009:12:12:51.443] "
    "fnt bck/srv1 0/0/5007 212 -- 0/0/0/0/3 0/0"
)
HAPROXY_HTTP_BASE = DOC_HAPROXY_HTTP.split(": ", 1)[1]

FAMILY_EXAMPLES: dict[str, tuple[list[str], list[str]]] = {
    "HAPROXYNAME": (["static", "be_app-1"], ["a/b", "a b"]),
    "HAPROXYTIME": (["12:14:14", "23:59:60"], ["12:14", "24:00:00"]),
    "HAPROXYDATE": (["06/Feb/2009:12:14:14.655"], ["06/Feb/2009:12:14:14", "2009-02-06"]),
    "HAPROXYCAPTUREDREQUESTHEADERS": (["1wt.eu", "a|b|", ""], ["a}b"]),
    "HAPROXYCAPTUREDRESPONSEHEADERS": (["text/html|gzip", ""], ["}"]),
    "HAPROXYURI": (["http://example.com:8080/a?b=c", "/index.html"], ["a b"]),
    "HAPROXYHTTPREQUESTLINE": (["GET /index.html HTTP/1.1", "<BADREQ>", "GET /"], ["GET"]),
    "HAPROXYHTTPBASE": ([HAPROXY_HTTP_BASE], [HAPROXY_HTTP_BASE.replace("10/0/30", "10-0-30")]),
    "HAPROXYHTTP": ([DOC_HAPROXY_HTTP], [DOC_HAPROXY_TCP]),
    "HAPROXYTCP": ([DOC_HAPROXY_TCP], [DOC_HAPROXY_HTTP]),
}

FAMILY_CAPTURES: list[tuple[str, str, dict[str, object]]] = [
    ("%{HAPROXYHTTP}", DOC_HAPROXY_HTTP, {
        "syslog_timestamp": "Feb  6 12:14:14", "syslog_server": "localhost",
        "program": "haproxy", "pid": "14389", "client_ip": "10.0.1.2", "client_port": "33317",
        "accept_date": "06/Feb/2009:12:14:14.655", "haproxy_monthday": "06",
        "haproxy_month": "Feb", "haproxy_year": "2009", "haproxy_time": "12:14:14",
        "haproxy_hour": "12", "haproxy_minute": "14", "haproxy_second": "14",
        "haproxy_milliseconds": "655", "frontend_name": "http-in", "backend_name": "static",
        "server_name": "srv1", "time_request": "10", "time_queue": "0",
        "time_backend_connect": "30", "time_backend_response": "69", "time_duration": "109",
        "http_status_code": "200", "bytes_read": "2750", "captured_request_cookie": "-",
        "captured_response_cookie": "-", "termination_state": "----", "actconn": "1",
        "feconn": "1", "beconn": "1", "srvconn": "1", "retries": "0", "srv_queue": "0",
        "backend_queue": "0", "captured_request_headers": "1wt.eu", "http_verb": "GET",
        "http_request": "/index.html", "http_version": "1.1"}),
    ("%{HAPROXYTCP}", DOC_HAPROXY_TCP, {
        "syslog_timestamp": "Feb  6 12:12:56", "syslog_server": "localhost",
        "program": "haproxy", "pid": "14387", "client_ip": "10.0.1.2", "client_port": "33313",
        "accept_date": "06/Feb/2009:12:12:51.443", "haproxy_monthday": "06",
        "haproxy_month": "Feb", "haproxy_year": "2009", "haproxy_time": "12:12:51",
        "haproxy_hour": "12", "haproxy_minute": "12", "haproxy_second": "51",
        "haproxy_milliseconds": "443", "frontend_name": "fnt", "backend_name": "bck",
        "server_name": "srv1", "time_queue": "0", "time_backend_connect": "0",
        "time_duration": "5007", "bytes_read": "212", "termination_state": "--",
        "actconn": "0", "feconn": "0", "beconn": "0", "srvconn": "0", "retries": "3",
        "srv_queue": "0", "backend_queue": "0"}),
]  # fmt: skip
