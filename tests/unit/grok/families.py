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

# -- java: java.lang.Throwable#printStackTrace's documented output; Tomcat's JULI format --
DOC_JAVA_FRAME = "        at MyClass.mash(MyClass.java:9)"
JAVA_NATIVE_FRAME = "\tat java.lang.Thread.run(Native Method)"
CATALINA = "Nov 26, 2026 5:00:01 AM org.apache.catalina.startup.Catalina start"
TOMCAT = "2026-11-26 05:00:01 +0000 | ERROR | com.example.Foo - failed to start"
# -- postgresql: a line with the documented prefix escapes '%t %u %c %p ' -----------------
POSTGRES = "2026-11-26 05:00:01 UTC postgres 5e3c2f1a.4d2 1234 LOG:  statement: SELECT 1"
# -- redis: the log line of the Redis 2.x documentation; MONITOR's documented output ------
DOC_REDIS = "[4018] 14 Nov 07:01:22.119 * Background saving terminated with success"
REDIS3 = "1:M 26 Nov 2026 05:00:01.123 * Ready to accept connections"
DOC_REDIS_MONITOR = '1339518083.107412 [0 127.0.0.1:60866] "keys" "*"'
# -- squid: the Squid wiki's native access.log example -----------------------------------
DOC_SQUID = (
    "1286536308.779    180 192.168.0.224 TCP_MISS/200 411 GET "
    "http://liveupdate.symantecliveupdate.com/minitri.flg - DIRECT/125.23.216.203 text/plain"
)
# -- aws: the examples of the AWS documentation (ELB, S3 server access, CloudFront) --------
DOC_ELB = (
    "2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.000073 "
    '0.001048 0.000057 200 200 0 29 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.38.0" - -'
)
DOC_S3 = (
    "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be DOC-EXAMPLE-BUCKET1 "
    "[06/Feb/2019:00:00:38 +0000] 192.0.2.3 "
    "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be 3E57427F3EXAMPLE "
    'REST.GET.VERSIONING - "GET /DOC-EXAMPLE-BUCKET1?versioning HTTP/1.1" 200 - 113 - 7 - '
    '"-" "S3Console/0.4" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/'
    "VLi31234= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader "
    "DOC-EXAMPLE-BUCKET1.s3.us-west-1.amazonaws.com TLSV1.2"
)
DOC_CLOUDFRONT = "\t".join(
    "2019-12-04 21:02:31 LAX1 392 192.0.2.100 GET d111111abcdef8.cloudfront.net /index.html "
    "200 - Mozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64) - - Hit "
    "SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ== d111111abcdef8.cloudfront.net "
    "https 23 0.001 - TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 Hit HTTP/2.0 - - 11040 0.001 Hit "
    "text/html 78 - -".split(" ")
)

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
    "JAVACLASS": (["java.lang.String", "Outer$Inner", "Foo"], ["1abc", "a..b"]),
    "JAVAFILE": (["MyClass.java", "Native Method", "Unknown Source"], ["a:b", "(x)"]),
    "JAVAMETHOD": (["mash", "<init>", "<clinit>", "$x_1"], ["1m", "<main>"]),
    "JAVASTACKTRACEPART": ([DOC_JAVA_FRAME, JAVA_NATIVE_FRAME], ["at MyClass(MyClass.java:9)"]),
    "JAVATHREAD": (["TP-Processor12", "http-nio-8080-exec-1"], ["main", "TP-Processor"]),
    "JAVALOGMESSAGE": (["anything", ""], []),
    "CATALINA_DATESTAMP": (["Nov 26, 2026 5:00:01 AM"], ["Nov 26 2026 5:00:01 AM"]),
    "CATALINALOG": ([CATALINA], [TOMCAT]),
    "TOMCAT_DATESTAMP": (["2026-11-26 05:00:01 +0000"], ["2026-11-26 05:00:01"]),
    "TOMCATLOG": ([TOMCAT], [CATALINA]),
    "POSTGRESQL": ([POSTGRES.split(" LOG:")[0]], ["2026-11-26 05:00:01 postgres x 1"]),
    "REDISTIMESTAMP": (["14 Nov 07:01:22.119", "26 Nov 2026 05:00:01.123"], ["Nov 14 07:01"]),
    "REDISLOG": ([DOC_REDIS[:29], REDIS3[:31]], ["4018 14 Nov 07:01:22.119 * "]),
    "REDISMONLOG": ([DOC_REDIS_MONITOR], ["1339518083.1 [0 127.0.0.1:60866] keys"]),
    "SQUID3": ([DOC_SQUID], [DOC_SQUID.replace("TCP_MISS/200", "TCP_MISS 200")]),
    "S3_REQUEST_LINE": (["GET /a?b HTTP/1.1", "\\x16\\x03"], []),
    "S3_ACCESS_LOG": ([DOC_S3.split(" s9lz")[0]], [DOC_ELB]),
    "ELB_URIPATHPARAM": (["/a/b?c=d", "/"], ["a/b"]),
    "ELB_URI": (["http://www.example.com:80/", "https://h/p?q"], ["/p", "www.example.com"]),
    "ELB_REQUEST_LINE": (["GET http://www.example.com:80/ HTTP/1.1", "- - - "], []),
    "ELB_ACCESS_LOG": ([DOC_ELB.split(' "curl')[0]], [DOC_S3]),
    "CLOUDFRONT_ACCESS_LOG": (["\t".join(DOC_CLOUDFRONT.split("\t")[:23])], [DOC_ELB]),
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
    ("%{JAVASTACKTRACEPART}", DOC_JAVA_FRAME, {
        "class": "MyClass", "method": "mash", "file": "MyClass.java", "line": "9"}),
    ("%{JAVASTACKTRACEPART}", JAVA_NATIVE_FRAME, {
        "class": "java.lang.Thread", "method": "run", "file": "Native Method"}),
    ("%{CATALINALOG}", CATALINA, {
        "timestamp": "Nov 26, 2026 5:00:01 AM", "class": "org.apache.catalina.startup.Catalina",
        "logmessage": "start"}),
    ("%{TOMCATLOG}", TOMCAT, {
        "timestamp": "2026-11-26 05:00:01 +0000", "level": "ERROR", "class": "com.example.Foo",
        "logmessage": "failed to start"}),
    ("%{POSTGRESQL}", POSTGRES, {
        "timestamp": "2026-11-26 05:00:01", "user_id": "postgres",
        "connection_id": "5e3c2f1a.4d2", "pid": "1234"}),
    ("%{REDISLOG}", DOC_REDIS, {"pid": "4018", "timestamp": "14 Nov 07:01:22.119"}),
    ("%{REDISLOG}", REDIS3, {"pid": "1", "timestamp": "26 Nov 2026 05:00:01.123"}),
    ("%{REDISMONLOG}", DOC_REDIS_MONITOR, {
        "timestamp": "1339518083.107412", "database": "0", "client": "127.0.0.1",
        "port": "60866", "command": "keys", "params": '"*"'}),
    ("%{SQUID3}", DOC_SQUID, {
        "timestamp": "1286536308.779", "duration": "180", "client_address": "192.168.0.224",
        "cache_result": "TCP_MISS", "status_code": "200", "bytes": "411",
        "request_method": "GET", "url": "http://liveupdate.symantecliveupdate.com/minitri.flg",
        "hierarchy_code": "DIRECT", "server": "125.23.216.203", "content_type": "text/plain"}),
    ("%{ELB_ACCESS_LOG}", DOC_ELB, {
        "timestamp": "2015-05-13T23:39:43.945958Z", "elb": "my-loadbalancer",
        "clientip": "192.168.131.39", "clientport": 2817, "backendip": "10.0.0.1",
        "backendport": 80, "request_processing_time": 0.000073,
        "backend_processing_time": 0.001048, "response_processing_time": 0.000057,
        "response": 200, "backend_response": 200, "received_bytes": 0, "bytes": 29,
        "verb": "GET", "request": "http://www.example.com:80/", "proto": "http",
        "urihost": "www.example.com:80", "port": "80", "path": "/", "httpversion": "1.1"}),
    ("%{S3_ACCESS_LOG}", DOC_S3, {
        "owner": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be",
        "bucket": "DOC-EXAMPLE-BUCKET1", "timestamp": "06/Feb/2019:00:00:38 +0000",
        "clientip": "192.0.2.3",
        "requester": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be",
        "request_id": "3E57427F3EXAMPLE", "operation": "REST.GET.VERSIONING", "key": "-",
        "verb": "GET", "request": "/DOC-EXAMPLE-BUCKET1?versioning", "httpversion": "1.1",
        "response": 200, "bytes": 113, "request_time_ms": 7, "referrer": '"-"',
        "agent": '"S3Console/0.4"'}),
    ("%{CLOUDFRONT_ACCESS_LOG}", DOC_CLOUDFRONT, {
        "timestamp": "2019-12-04\t21:02:31", "x_edge_location": "LAX1", "sc_bytes": 392,
        "clientip": "192.0.2.100", "cs_method": "GET",
        "cs_host": "d111111abcdef8.cloudfront.net", "cs_uri_stem": "/index.html",
        "sc_status": 200, "agent": "Mozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)",
        "x_edge_result_type": "Hit",
        "x_edge_request_id": "SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==",
        "x_host_header": "d111111abcdef8.cloudfront.net", "cs_protocol": "https",
        "cs_bytes": 23, "time_taken": 0.001, "ssl_protocol": "TLSv1.2",
        "ssl_cipher": "ECDHE-RSA-AES128-GCM-SHA256", "x_edge_response_result_type": "Hit"}),
]  # fmt: skip
