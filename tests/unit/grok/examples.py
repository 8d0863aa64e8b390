"""Matching and non-matching examples for every built-in pattern (whole-string matches)."""

from __future__ import annotations

COMMON = '127.0.0.1 - frank [10/Oct/2026:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326'
COMBINED = COMMON + ' "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"'
NGINX = (
    '2001:db8::1 - - [26/Nov/2026:05:00:01 +0000] "POST /api/v1/items?x=1 HTTP/2.0" 201 17 '
    '"-" "curl/8.5.0"'
)
ERR20 = "[Thu Nov 26 05:00:01 2026] [error] [client 10.0.0.1] File does not exist: /var/www/x"
ERR24 = (
    "[Thu Nov 26 05:00:01.123456 2026] [core:error] [pid 1234:tid 5678] "
    "[client 10.0.0.1:51234] AH00128: File does not exist: /var/www/x"
)
SYSLOG = "Nov 26 05:00:01 web1 sshd[123]: Accepted publickey for root from 10.0.0.9"
PAM = (
    "Nov 26 05:00:01 web1 sshd[1]: pam_unix(sshd:session): session opened for user root by (uid=0)"
)
CRON = "Nov 26 05:00:01 web1 CRON[42]: (root) CMD (run-parts /etc/cron.hourly)"
RFC5424 = "<34>1 2026-11-26T05:00:01.003Z web1 su - ID47 - 'su root' failed on /dev/pts/8"

# NAME: ([strings the pattern matches exactly], [strings it does not match as a whole])
EXAMPLES: dict[str, tuple[list[str], list[str]]] = {
    "USERNAME": (["john.doe-1_x", "a"], ["john doe", ""]),
    "USER": (["root", "svc_account.2"], ["ro ot", "a:b"]),
    "EMAILLOCALPART": (["first.last+tag", "x"], [".start", "a..b"]),
    "EMAILADDRESS": (["a.b@example.com", "root@localhost"], ["a.b@", "no-at-sign"]),
    "INT": (["-42", "+7", "0"], ["4.2", "abc"]),
    "BASE10NUM": (["3.14", "-0.5", ".5", "42"], ["1.", "abc", "1.2.3"]),
    "NUMBER": (["12", "-3.5", "+0.25"], ["x1", "1e5"]),
    "BASE16NUM": (["0x1F", "dead", "-0xff"], ["0xZZ", "xyz"]),
    "BASE16FLOAT": (["0x1.8", "ff.a", "10"], ["g1", "0x"]),
    "POSINT": (["1", "42"], ["0", "-1", "01"]),
    "NONNEGINT": (["0", "42", "007"], ["-1", "4.2"]),
    "WORD": (["hello_1", "x"], ["hello world", "a-b"]),
    "NOTSPACE": (["a-b/c", "[x]"], ["a b", ""]),
    "SPACE": (["  \t", ""], ["x", " x "]),
    "DATA": (["anything at all", "", "multi\nline"], []),  # matches every text
    "GREEDYDATA": (["anything at all", "", "multi\nline"], []),  # matches every text
    "QUOTEDSTRING": (['"a \\"quoted\\" word"', "'single'", "`back`", '""'], ['"open', "plain"]),
    "QS": (['"-"', "'x y'"], ["'unterminated", "no quotes"]),
    "UUID": (["123e4567-e89b-12d3-a456-426614174000"], ["123e4567-e89b-12d3-a456-42661417400"]),
    "URN": (["urn:isbn:0451450523", "urn:ietf:rfc:2648"], ["urn:", "isbn:0451450523"]),
    "MAC": (["00:1A:2b:3C:4d:5E", "00-1A-2B-3C-4D-5E", "001a.2b3c.4d5e"], ["00:1A:2B:3C:4D"]),
    "CISCOMAC": (["001a.2b3c.4d5e"], ["00:1a:2b:3c:4d:5e", "001a.2b3c"]),
    "WINDOWSMAC": (["00-1A-2B-3C-4D-5E"], ["00:1A:2B:3C:4D:5E", "00-1A-2B-3C-4D-5G"]),
    "COMMONMAC": (["00:1a:2b:3c:4d:5e"], ["00-1a-2b-3c-4d-5e", "00:1a:2b:3c:4d"]),
    "IPV4": (
        ["192.168.0.1", "0.0.0.0", "255.255.255.255", "010.001.1.1"],
        ["256.1.1.1", "1.2.3", "1.2.3.4.5"],
    ),
    "IPV6H16": (["ffff", "0"], ["fffff", "g"]),
    "IPV6LS32": (["1:2", "1.2.3.4"], ["1:2:3", "1.2.3"]),
    "IPV6": (
        [
            "::1",
            "fe80::1",
            "2001:db8::8a2e:370:7334",
            "1:2:3:4:5:6:7:8",
            "::",
            "::ffff:192.0.2.1",
            "fe80::1%eth0",
            "1::",
        ],
        ["1:2:3:4:5:6:7:8:9", "12345::1", ":::1", "1:2"],
    ),
    "IP": (["10.0.0.1", "::1"], ["10.0.0", "host"]),
    "HOSTNAME": (
        ["example.com", "a-b.c-d.example.org", "localhost", "example.com."],
        ["-leading.com", "exa mple"],
    ),
    "IPORHOST": (["10.0.0.1", "example.com", "2001:db8::1"], ["exa mple", "_x"]),
    "HOSTPORT": (["example.com:8080", "10.0.0.1:80"], ["example.com", "example.com:0"]),
    "PATH": (["/var/log/syslog", "C:\\Windows\\System32"], ["relative/path", "C:/x"]),
    "UNIXPATH": (["/usr/local/bin", "/a\\ b", "/"], ["usr/bin", "/a b"]),
    "TTY": (["/dev/pts/1", "/dev/tty1"], ["/dev/sda1", "/dev/pts/"]),
    "WINPATH": (["C:\\Windows\\Temp", "\\\\server\\share"], ["C:/Windows", "Windows"]),
    "URIPROTO": (["https", "git+ssh"], ["1http", "ht tp"]),
    "URIHOST": (["example.com:8443", "10.0.0.1"], ["exa mple", "example.com:"]),
    "URIPATH": (["/index.html", "/a/b;c=d"], ["index.html", "/a b"]),
    "URIPARAM": (["?q=1&x=%20", "?"], ["q=1", "?a b"]),
    "URIPATHPARAM": (["/search?q=grok", "/"], ["search", "/x?a b"]),
    "URI": (
        ["https://user:pw@example.com:8443/p/a?q=1", "ftp://ftp.example.org"],
        ["example.com/path", "://x"],
    ),
    "MONTH": (["Jan", "January", "Sep", "März", "Okt", "dec"], ["Foo", "Janu"]),
    "MONTHNUM": (["1", "01", "12"], ["13", "00"]),
    "MONTHNUM2": (["01", "12"], ["1", "13"]),
    "MONTHDAY": (["1", "09", "31"], ["32", "00"]),
    "DAY": (["Mon", "Tuesday"], ["Mo", "Funday"]),
    "YEAR": (["2026", "26"], ["202", "20260"]),
    "HOUR": (["0", "09", "23"], ["24", "123"]),
    "MINUTE": (["00", "59"], ["60", "5"]),
    "SECOND": (["59", "60", "05.123", "7,5"], ["61", "5."]),
    "TIME": (["05:00:01", "23:59:60.123"], ["24:00:00", "05:00"]),
    "DATE_US": (["11/26/2026", "11-26-26"], ["26/11/2026", "11.26.2026"]),
    "DATE_EU": (["26.11.2026", "26/11/2026"], ["11/26/2026", "26 11 2026"]),
    "ISO8601_TIMEZONE": (["Z", "+01:00", "-0530"], ["+25:00", "UTC"]),
    "ISO8601_SECOND": (["59.123", "07"], ["75", "7."]),
    "TIMESTAMP_ISO8601": (
        ["2026-11-26T05:00:01Z", "2026-11-26 05:00:01.123456+01:00", "2026-11-26T05:00"],
        ["2026-13-26T05:00:01Z", "26/11/2026"],
    ),
    "DATE": (["11/26/2026", "26.11.2026"], ["2026-11-26", "Nov 26"]),
    "DATESTAMP": (["11/26/2026 05:00:01", "26.11.2026-05:00:01"], ["11/26/2026", "05:00:01"]),
    "TZ": (["UTC", "PST", "EDT"], ["CEST", "GMT"]),
    "DATESTAMP_RFC822": (["Thu Nov 26 2026 05:00:01 UTC"], ["Thu Nov 26 2026 05:00:01"]),
    "DATESTAMP_RFC2822": (["Thu, 26 Nov 2026 05:00:01 +0000"], ["Thu 26 Nov 2026 05:00:01 +0000"]),
    "DATESTAMP_OTHER": (["Thu Nov 26 05:00:01 UTC 2026"], ["Thu Nov 26 05:00:01 2026"]),
    "DATESTAMP_EVENTLOG": (["20261126050001"], ["2026-11-26", "2026112605"]),
    "SYSLOGTIMESTAMP": (["Nov 26 05:00:01", "Nov  6 05:00:01"], ["2026-11-26 05:00:01"]),
    "PROG": (["sshd", "postfix/smtpd", "kernel"], ["sshd[123]", "a b"]),
    "SYSLOGPROG": (["sshd[123]", "cron"], ["sshd[abc]", "x [1]"]),
    "SYSLOGHOST": (["web1", "10.0.0.1"], ["web 1", ""]),
    "SYSLOGFACILITY": (["<4.6>", "<0.0>"], ["<4>", "4.6"]),
    "HTTPDATE": (["26/Nov/2026:05:00:01 +0000"], ["26/Nov/2026 05:00:01 +0000"]),
    "SYSLOGBASE": (["Nov 26 05:00:01 web1 sshd[123]:"], ["Nov 26 05:00:01 web1 sshd[123]"]),
    "LOGLEVEL": (["INFO", "warning", "Err", "EMERGENCY", "Notice", "TRACE"], ["verbose", "INFOO"]),
    "HTTPDUSER": (["-", "frank", "frank@example.com"], ["fr ank", ""]),
    "HTTPDERROR_DATE": (["Thu Nov 26 05:00:01 2026"], ["Thu Nov 26 2026", "Nov 26 05:00:01"]),
    "HTTPD_COMMONLOG": ([COMMON], [COMMON.replace(" 200 ", " OK ")]),
    "HTTPD_COMBINEDLOG": ([COMBINED, NGINX], [COMMON]),
    "COMMONAPACHELOG": ([COMMON], [COMMON.replace("[10/Oct", "10/Oct")]),
    "COMBINEDAPACHELOG": ([COMBINED, NGINX], [COMMON + ' "-"']),
    "NGINXACCESS": ([NGINX], [NGINX.replace('"POST', "POST")]),
    "HTTPD20_ERRORLOG": ([ERR20], [ERR24]),
    "HTTPD24_ERRORLOG": ([ERR24], [ERR20]),
    "HTTPD_ERRORLOG": ([ERR20, ERR24], ["[error] no date"]),
    "SYSLOG5424PRINTASCII": (["app-name", "x"], ["a b", ""]),
    "SYSLOGBASE2": (
        ["Nov 26 05:00:01 web1 sshd[1]:", "2026-11-26T05:00:01Z web1"],
        ["web1 sshd", "Nov 26 web1"],
    ),
    "SYSLOGPAMSESSION": ([PAM], [SYSLOG]),
    "CRON_ACTION": (["CMD", "RELOAD JOB"], ["cmd", ""]),
    "CRONLOG": ([CRON], [CRON.replace("(root)", "root")]),
    "SYSLOGLINE": ([SYSLOG, CRON], ["just some text", "Nov 26 web1 x"]),
    "SYSLOG5424PRI": (["<34>"], ["34", "<x>"]),
    "SYSLOG5424SD": (
        ['[exampleSDID@32473 iut="3" eventSource="Application"]', '[a][b x="]"]'],
        ["[unterminated", "plain"],
    ),
    "SYSLOG5424BASE": (
        ["<34>1 2026-11-26T05:00:01.003Z web1 su - ID47 -"],
        ["<34> 2026-11-26T05:00:01.003Z web1 su - ID47 -"],
    ),
    "SYSLOG5424LINE": ([RFC5424], ["<34>1", RFC5424.replace("<34>1", "<34>")]),
    "LOG": (["anything", "", "two\nlines"], []),  # the catch-all: matches every text
    "EVENT": (["web1: container.start", "my-app.1.x: image.pull"], ["web1 container.start"]),
    "OPENTSDB": (
        ["put sys.cpu 1356998400 42.5 host=web1 cpu=0", "put x 1 2"],
        ["put sys.cpu abc 1", "get x 1 2"],
    ),
}

# Captures of the compound patterns (legacy Logstash field names).
CAPTURES: list[tuple[str, str, dict[str, object]]] = [
    ("%{COMBINEDAPACHELOG}", COMBINED, {
        "clientip": "127.0.0.1", "ident": "-", "auth": "frank",
        "timestamp": "10/Oct/2026:13:55:36 -0700", "verb": "GET", "request": "/apache_pb.gif",
        "httpversion": "1.0", "response": "200", "bytes": "2326",
        "referrer": '"http://www.example.com/start.html"',
        "agent": '"Mozilla/4.08 [en] (Win98; I ;Nav)"'}),
    ("%{COMBINEDAPACHELOG}", NGINX, {
        "clientip": "2001:db8::1", "ident": "-", "auth": "-",
        "timestamp": "26/Nov/2026:05:00:01 +0000", "verb": "POST",
        "request": "/api/v1/items?x=1", "httpversion": "2.0", "response": "201", "bytes": "17",
        "referrer": '"-"', "agent": '"curl/8.5.0"'}),
    ("%{COMMONAPACHELOG}", '1.2.3.4 - - [10/Oct/2026:13:55:36 -0700] "\\x16\\x03\\x01" 400 -', {
        "clientip": "1.2.3.4", "ident": "-", "auth": "-",
        "timestamp": "10/Oct/2026:13:55:36 -0700", "rawrequest": "\\x16\\x03\\x01",
        "response": "400"}),
    ("%{SYSLOGLINE}", SYSLOG, {
        "timestamp": "Nov 26 05:00:01", "logsource": "web1", "program": "sshd", "pid": "123",
        "message": "Accepted publickey for root from 10.0.0.9"}),
    ("%{SYSLOGBASE}", "Nov 26 05:00:01 <4.6> web1 kernel:", {
        "timestamp": "Nov 26 05:00:01", "facility": "4", "priority": "6",
        "logsource": "web1", "program": "kernel"}),
    ("%{SYSLOGPAMSESSION}", PAM, {
        "timestamp": "Nov 26 05:00:01", "logsource": "web1", "program": "sshd", "pid": "1",
        "message": "pam_unix(sshd:session): session opened for user root by (uid=0)",
        "pam_module": "pam_unix", "pam_caller": "sshd:session", "pam_session_state": "opened",
        "username": "root", "pam_by": "(uid=0)"}),
    ("%{CRONLOG}", CRON, {
        "timestamp": "Nov 26 05:00:01", "logsource": "web1", "program": "CRON", "pid": "42",
        "user": "root", "action": "CMD", "message": "run-parts /etc/cron.hourly"}),
    ("%{SYSLOG5424LINE}", RFC5424, {
        "syslog5424_pri": "34", "syslog5424_ver": "1", "syslog5424_ts": "2026-11-26T05:00:01.003Z",
        "syslog5424_host": "web1", "syslog5424_app": "su", "syslog5424_msgid": "ID47",
        "syslog5424_msg": "'su root' failed on /dev/pts/8"}),
    ("%{HTTPD20_ERRORLOG}", ERR20, {
        "timestamp": "Thu Nov 26 05:00:01 2026", "loglevel": "error", "clientip": "10.0.0.1",
        "message": "File does not exist: /var/www/x"}),
    ("%{HTTPD_ERRORLOG}", ERR24, {
        "timestamp": "Thu Nov 26 05:00:01.123456 2026", "module": "core", "loglevel": "error",
        "pid": "1234", "tid": "5678", "clientip": "10.0.0.1", "clientport": "51234",
        "errorcode": "AH00128", "message": "File does not exist: /var/www/x"}),
    ("%{OPENTSDB}", "put sys.cpu 1356998400 42.5 host=web1 cpu=0", {
        "key": "sys.cpu", "time": "1356998400", "value": "42.5", "tags": "host=web1 cpu=0"}),
    ("%{EVENT}", "web1: container.start", {"name": "web1", "type": "container", "action": "start"}),
    ("%{LOG}", "some text", {"msg": "some text"}),
    ("%{URI}", "https://user@example.com:8443/a?b=c", {"port": "8443"}),
    ("%{SYSLOGLINE}", "2026-11-26T05:00:01Z web1 app: hello", {
        "timestamp8601": "2026-11-26T05:00:01Z", "logsource": "web1", "program": "app",
        "message": "hello"}),
]  # fmt: skip
