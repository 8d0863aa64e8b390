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

# -- bind: a query log line of the BIND 9 ARM's "queries" category format -------------------
BIND = (
    "26-Nov-2026 05:00:01.123 queries: info: client @0x7f5c1c0 192.0.2.1#53211 "
    "(www.example.com): query: www.example.com IN A +E(0)K (192.0.2.53)"
)
# -- exim: the Exim specification's main log example ----------------------------------------
DOC_EXIM = (
    "2002-10-31 08:57:53 16ZCW1-0005MB-00 <= kryten@dwarf.fict.example "
    "H=mailer.fict.example [192.168.123.123] U=exim P=smtp S=5678 "
    "id=f828ca60412d@dwarf.fict.example"
)
# -- rails: the Rails guides' request log ---------------------------------------------------
DOC_RAILS = (
    'Started GET "/" for 127.0.0.1 at 2012-09-27 14:42:58 -0700\n'
    "Processing by HomeController#index as HTML\n"
    "  Rendered home/index.html.erb within layouts/application (0.2ms)\n"
    "Completed 200 OK in 79ms (Views: 78.8ms | ActiveRecord: 0.0ms)"
)
# -- mongodb: the MongoDB manual's 3.x log line; a 2.x line and slow query -----------------
DOC_MONGO3 = (
    "2014-11-03T18:28:32.450-0500 I NETWORK [initandlisten] waiting for connections on port 27017"
)
MONGO2 = "Nov 26 05:00:01 [initandlisten] waiting for connections on port 27017"
MONGO_SLOW = (
    'query test.users query: { name: "x" } ntoreturn:0 ntoskip:0 nscanned:10 keyUpdates:0 '
    "locks(micros) r:1 nreturned:1 reslen:100 105ms"
)
# -- ruby: Ruby's Logger documentation; mcollective (Ruby Logger) -----------------------------
DOC_RUBY = "I, [1999-03-03T02:34:24.895701 #19074]  INFO -- Main: info."
MCO = "I, [2026-11-26T05:00:01.123456 #1234]  INFO -- : mcollectived:31 started"
# -- junos: RT_FLOW messages in the field order of the Junos system log reference ----------
JUNOS_CLOSE = (
    "RT_FLOW_SESSION_CLOSE: session closed TCP FIN: 10.0.0.1/51234->192.0.2.1/80 junos-http "
    "203.0.113.1/40000->192.0.2.1/80 source-rule-1 None 6 default-permit trust untrust 4023 "
    "11(1132) 9(4325) 3 UNKNOWN UNKNOWN N/A(N/A) ge-0/0/1.0"
)
JUNOS_CREATE = (
    "RT_FLOW_SESSION_CREATE: session created 10.0.0.1/51234->192.0.2.1/80 junos-http "
    "203.0.113.1/40000->192.0.2.1/80 source-rule-1 None 6 default-permit trust untrust 4023 "
    "N/A(N/A) ge-0/0/1.0"
)
JUNOS_DENY = (
    "RT_FLOW_SESSION_DENY: session denied 10.0.0.1/51234->192.0.2.1/23 junos-telnet 6(0) "
    "deny-telnet trust untrust UNKNOWN UNKNOWN N/A(N/A) ge-0/0/1.0"
)

# -- firewalls: messages in the formats of Cisco's ASA syslog reference, a ScreenOS traffic
# log line, netfilter LOG lines of Shorewall and SuSEfirewall2
FIREWALL_LINES = {
    "CISCOFW104001": "(Primary) Switching to ACTIVE - Other unit wants me Active.",
    "CISCOFW104002": "(Secondary) Switching to STANDBY - Other unit wants me Standby.",
    "CISCOFW104003": "(Primary) Switching to FAILED.",
    "CISCOFW104004": "(Secondary) Switching to OK.",
    "CISCOFW105003": "(Primary) Monitoring on interface inside waiting",
    "CISCOFW105004": "(Primary) Monitoring on interface inside normal",
    "CISCOFW105005": "(Primary) Lost Failover communications with mate on interface inside",
    "CISCOFW105008": "(Primary) Testing interface inside",
    "CISCOFW105009": "(Primary) Testing on interface inside Passed",
    "CISCOFW106001": "Inbound TCP connection denied from 10.1.1.1/1234 to 192.0.2.1/80 flags SYN  on interface outside",
    "CISCOFW106006_106007_106010": "Deny inbound UDP from 10.1.1.1/53 to 192.0.2.1/1234 due to DNS Response",
    "CISCOFW106014": "Deny inbound icmp src outside:10.1.1.1 dst inside:192.0.2.1 (type 8, code 0)",
    "CISCOFW106015": "Deny TCP (no connection) from 10.1.1.1/1234 to 192.0.2.1/80 flags RST  on interface outside",
    "CISCOFW106021": "Deny TCP reverse path check from 10.1.1.1 to 192.0.2.1 on interface outside",
    "CISCOFW106023": 'Deny tcp src outside:10.1.1.1/1234 dst inside:192.0.2.1/80 by access-group "outside_in" [0x0, 0x0]',
    "CISCOFW106100_2_3": "access-list outside_in denied for user 'bob' outside/10.1.1.1(1234) -> inside/192.0.2.1(80) hit-cnt 1 first hit [0x0, 0x0]",
    "CISCOFW106100": "access-list outside_in permitted tcp outside/10.1.1.1(1234) -> inside/192.0.2.1(80) hit-cnt 1 first hit [0xd820e56a, 0x0]",
    "CISCOFW110002": "Failed to locate egress interface for TCP from inside:10.1.1.1/1234 to 192.0.2.1/80",
    "CISCOFW302010": "12 in use, 500 most used",
    "CISCOFW302013_302014_302015_302016": "Built inbound TCP connection 123 for outside:10.1.1.1/1234 (10.1.1.1/1234) to inside:192.0.2.1/80 (203.0.113.1/80)",
    "CISCOFW302020_302021": "Built inbound ICMP connection for faddr 10.1.1.1/1 gaddr 192.0.2.1/0 laddr 192.0.2.1/0",
    "CISCOFW305011": "Built dynamic TCP translation from inside:10.1.1.1/1234 to outside:203.0.113.1/40000",
    "CISCOFW313001_313004_313008": "Denied ICMP type=8, code=0 from 10.1.1.1 on interface outside",
    "CISCOFW313005": "No matching connection for ICMP error message: icmp src outside:10.1.1.1 dst inside:192.0.2.1 (type 3, code 3) on outside interface.  Original IP payload: udp src 192.0.2.1/53 dst 10.1.1.1/1234",
    "CISCOFW321001": "Resource 'conns' limit of 10000 reached for system",
    "CISCOFW402117": "IPSEC: Received a non-IPSec packet (protocol= TCP) from 10.1.1.1 to 192.0.2.1",
    "CISCOFW402119": "IPSEC: Received an ESP packet (SPI= 0x1A2B3C, sequence number= 0x1) from 10.1.1.1 (user= bob) to 192.0.2.1 that failed anti-replay checking",
    "CISCOFW419001": "Dropping TCP packet from outside:10.1.1.1/1234 to inside:192.0.2.1/80, reason: MSS exceeded, MSS 1380, data 1460",
    "CISCOFW419002": "Duplicate TCP SYN from outside:10.1.1.1/1234 to inside:192.0.2.1/80 with different initial sequence number",
    "CISCOFW500004": "Invalid transport field for protocol=TCP, from 10.1.1.1/0 to 192.0.2.1/80",
    "CISCOFW602303_602304": "IPSEC: An outbound LAN-to-LAN SA (SPI= 0x1A2B3C) between 10.1.1.1 and 192.0.2.1 (user= peer) has been created",
    "CISCOFW710001_710002_710003_710005_710006": "TCP access denied by ACL from 10.1.1.1/1234 to outside:192.0.2.1/22",
    "CISCOFW713172": "Group = vpn, IP = 10.1.1.1, Automatic NAT Detection Status:     Remote end is NOT behind a NAT device     This   end IS behind a NAT device",
    "CISCOFW733100": "[ Scanning] drop rate-1 exceeded. Current burst rate is 10 per second, max configured rate is 10; Current average rate is 5 per second, max configured rate is 5; Cumulative total count is 3000",
    "CISCO_TAGGED_SYSLOG": "<166>Nov 26 2026 05:00:01 fw01 : %ASA-6-302013:",
    "NETSCREENSESSIONLOG": 'Nov 26 05:00:01 10.0.0.1 ns5gt: NetScreen device_id=ns5gt  [Root]system-notification-00257(traffic): start_time="2026-11-26 05:00:01" duration=0 policy_id=320001 service=udp/port:7001 proto=17 src zone=Trust dst zone=Untrust action=Deny sent=0 rcvd=0 src=10.1.1.1 dst=192.0.2.1 src_port=1234 dst_port=7001 src-xlated ip=10.1.1.1 port=1234 dst-xlated ip=192.0.2.1 port=7001 session_id=0 reason=Traffic Denied',
    "SHOREWALL": "Nov 26 05:00:01 gw kernel: [12.345678] Shorewall:net2fw:DROP:IN=eth0 OUT= MAC=00:11:22:33:44:55:66:77:88:99:aa:bb:08:00 SRC=10.1.1.1 DST=192.0.2.1 LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=12345 DF PROTO=TCP SPT=51234 DPT=22",
    "SFW2": "Nov 26 05:00:01 gw kernel: [12.345678] SFW2-INext-DROP-DEFLT IN=eth0 OUT= MAC=00:11:22:33:44:55:66:77:88:99:aa:bb:08:00 SRC=10.1.1.1 DST=192.0.2.1 LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=12345 DF PROTO=TCP SPT=51234 DPT=22",
}
_FW = list(FIREWALL_LINES)
ASA_TAGGED = (
    "<166>Nov 26 2026 05:00:01 fw01 : %ASA-6-302014: Teardown TCP connection 123 for "
    "outside:10.1.1.1/1234 to inside:192.0.2.1/80 duration 0:00:01 bytes 1024 TCP FINs"
)

# -- nagios: nagios.log lines in the documented "[epoch] TYPE: a;b;c" form ------------------
NAGIOS_LINES = {
    "NAGIOS_WARNING": "Warning: Return code of 255 for check of service 'HTTP' on host 'web1'",
    "NAGIOS_CURRENT_SERVICE_STATE": "CURRENT SERVICE STATE: web1;HTTP;OK;HARD;1;HTTP OK",
    "NAGIOS_CURRENT_HOST_STATE": "CURRENT HOST STATE: web1;UP;HARD;1;PING OK - Packet loss = 0%",
    "NAGIOS_SERVICE_NOTIFICATION": "SERVICE NOTIFICATION: admin;web1;HTTP;CRITICAL;notify-by-email;timeout",
    "NAGIOS_HOST_NOTIFICATION": "HOST NOTIFICATION: admin;web1;DOWN;notify-by-email;PING CRITICAL",
    "NAGIOS_SERVICE_ALERT": "SERVICE ALERT: web1;HTTP;CRITICAL;HARD;3;CRITICAL - Socket timeout",
    "NAGIOS_HOST_ALERT": "HOST ALERT: web1;DOWN;HARD;10;PING CRITICAL - Packet loss = 100%",
    "NAGIOS_SERVICE_FLAPPING_ALERT": "SERVICE FLAPPING ALERT: web1;HTTP;STARTED; Service appears to have started flapping",
    "NAGIOS_HOST_FLAPPING_ALERT": "HOST FLAPPING ALERT: web1;STOPPED; Host appears to have stopped flapping",
    "NAGIOS_SERVICE_DOWNTIME_ALERT": "SERVICE DOWNTIME ALERT: web1;HTTP;STARTED; Service has entered a period of scheduled downtime",
    "NAGIOS_HOST_DOWNTIME_ALERT": "HOST DOWNTIME ALERT: web1;STOPPED; Host has exited from a period of scheduled downtime",
    "NAGIOS_PASSIVE_SERVICE_CHECK": "PASSIVE SERVICE CHECK: web1;HTTP;0;OK - fine",
    "NAGIOS_PASSIVE_HOST_CHECK": "PASSIVE HOST CHECK: web1;0;OK - up",
    "NAGIOS_SERVICE_EVENT_HANDLER": "SERVICE EVENT HANDLER: web1;HTTP;CRITICAL;SOFT;restart-httpd",
    "NAGIOS_HOST_EVENT_HANDLER": "HOST EVENT HANDLER: web1;DOWN;SOFT;wake-host",
    "NAGIOS_TIMEPERIOD_TRANSITION": "TIMEPERIOD TRANSITION: workhours;-1;1",
    "NAGIOS_EC_LINE_DISABLE_SVC_CHECK": "EXTERNAL COMMAND: DISABLE_SVC_CHECK;web1;HTTP",
    "NAGIOS_EC_LINE_ENABLE_SVC_CHECK": "EXTERNAL COMMAND: ENABLE_SVC_CHECK;web1;HTTP",
    "NAGIOS_EC_LINE_DISABLE_HOST_CHECK": "EXTERNAL COMMAND: DISABLE_HOST_CHECK;web1",
    "NAGIOS_EC_LINE_ENABLE_HOST_CHECK": "EXTERNAL COMMAND: ENABLE_HOST_CHECK;web1",
    "NAGIOS_EC_LINE_PROCESS_SERVICE_CHECK_RESULT": "EXTERNAL COMMAND: PROCESS_SERVICE_CHECK_RESULT;web1;HTTP;0;OK",
    "NAGIOS_EC_LINE_PROCESS_HOST_CHECK_RESULT": "EXTERNAL COMMAND: PROCESS_HOST_CHECK_RESULT;web1;0;OK",
    "NAGIOS_EC_LINE_DISABLE_HOST_SVC_NOTIFICATIONS": "EXTERNAL COMMAND: DISABLE_HOST_SVC_NOTIFICATIONS;web1",
    "NAGIOS_EC_LINE_ENABLE_HOST_SVC_NOTIFICATIONS": "EXTERNAL COMMAND: ENABLE_HOST_SVC_NOTIFICATIONS;web1",
    "NAGIOS_EC_LINE_DISABLE_HOST_NOTIFICATIONS": "EXTERNAL COMMAND: DISABLE_HOST_NOTIFICATIONS;web1",
    "NAGIOS_EC_LINE_ENABLE_HOST_NOTIFICATIONS": "EXTERNAL COMMAND: ENABLE_HOST_NOTIFICATIONS;web1",
    "NAGIOS_EC_LINE_DISABLE_SVC_NOTIFICATIONS": "EXTERNAL COMMAND: DISABLE_SVC_NOTIFICATIONS;web1;HTTP",
    "NAGIOS_EC_LINE_ENABLE_SVC_NOTIFICATIONS": "EXTERNAL COMMAND: ENABLE_SVC_NOTIFICATIONS;web1;HTTP",
    "NAGIOS_EC_LINE_SCHEDULE_HOST_DOWNTIME": "EXTERNAL COMMAND: SCHEDULE_HOST_DOWNTIME;web1;1427925600;1427929200;1;0;3600;admin;patching",
    "NAGIOS_EC_LINE_SCHEDULE_SERVICE_DOWNTIME": "EXTERNAL COMMAND: SCHEDULE_SERVICE_DOWNTIME;web1;HTTP;1427925600;1427929200;1;0;3600;admin;patching",
}  # fmt: skip
_NAG = list(NAGIOS_LINES)
NAGIOS_TYPES = {
    f"NAGIOS_TYPE_{n}": n.replace("_", " ")
    for n in (
        "CURRENT_SERVICE_STATE CURRENT_HOST_STATE SERVICE_NOTIFICATION HOST_NOTIFICATION "
        "SERVICE_ALERT HOST_ALERT SERVICE_FLAPPING_ALERT HOST_FLAPPING_ALERT "
        "SERVICE_DOWNTIME_ALERT HOST_DOWNTIME_ALERT PASSIVE_SERVICE_CHECK PASSIVE_HOST_CHECK "
        "SERVICE_EVENT_HANDLER HOST_EVENT_HANDLER EXTERNAL_COMMAND TIMEPERIOD_TRANSITION"
    ).split()
}
NAGIOS_COMMANDS = {
    f"NAGIOS_EC_{n[len('NAGIOS_EC_LINE_') :]}": n[len("NAGIOS_EC_LINE_") :]
    for n in NAGIOS_LINES
    if n.startswith("NAGIOS_EC_LINE_")
}

# -- bro / zeek: tab-separated logs; the conn.log example of the Zeek documentation, and one
# line per log built from its documented field list (kinds: N number, IP, I integer, text)
DOC_ZEEK_CONN = "\t".join(
    "1300475167.096535 CRkwBA3xeEV9dzj1n 141.142.220.202 5353 224.0.0.251 5353 udp dns - - - S0 - "
    "- 0 D 1 73 0 0 -".split(" ")
)
TSV_FIELDS = {
    'BRO_HTTP': 'ts:N uid orig_h:IP orig_p:I resp_h:IP resp_p:I trans_depth:I method domain uri referrer user_agent request_body_len:I response_body_len:I status_code:I status_msg info_code:I info_msg filename bro_tags username password proxied orig_fuids orig_mime_types resp_fuids resp_mime_types',
    'BRO_DNS': 'ts:N uid orig_h:IP orig_p:I resp_h:IP resp_p:I proto trans_id:I query qclass:I qclass_name qtype:I qtype_name rcode:I rcode_name AA TC RD RA Z:I answers TTLs rejected',
    'BRO_CONN': 'ts:N uid orig_h:IP orig_p:I resp_h:IP resp_p:I proto service duration:N orig_bytes:I resp_bytes:I conn_state local_orig missed_bytes:I history orig_pkts:I orig_ip_bytes:I resp_pkts:I resp_ip_bytes:I tunnel_parents',
    'BRO_FILES': 'ts:N fuid tx_hosts rx_hosts conn_uids source depth:I analyzers mime_type filename duration:N local_orig is_orig seen_bytes:I total_bytes:I missing_bytes:I overflow_bytes:I timedout parent_fuid md5 sha1 sha256 extracted',
    'ZEEK_HTTP': 'ts:N uid orig_h:IP orig_p:I resp_h:IP resp_p:I trans_depth:I method domain uri referrer version user_agent origin request_body_len:I response_body_len:I status_code:I status_msg info_code:I info_msg zeek_tags username password proxied orig_fuids orig_filenames orig_mime_types resp_fuids resp_filenames resp_mime_types',
    'ZEEK_DNS': 'ts:N uid orig_h:IP orig_p:I resp_h:IP resp_p:I proto trans_id:I rtt:N query qclass:I qclass_name qtype:I qtype_name rcode:I rcode_name AA TC RD RA Z:I answers TTLs rejected',
    'ZEEK_CONN': 'ts:N uid orig_h:IP orig_p:I resp_h:IP resp_p:I proto service duration:N orig_bytes:I resp_bytes:I conn_state local_orig local_resp missed_bytes:I history orig_pkts:I orig_ip_bytes:I resp_pkts:I resp_ip_bytes:I tunnel_parents',
    'ZEEK_FILES': 'ts:N fuid tx_hosts rx_hosts conn_uids source depth:I analyzers mime_type filename duration:N local_orig is_orig seen_bytes:I total_bytes:I missing_bytes:I overflow_bytes:I timedout parent_fuid md5 sha1 sha256 extracted',
}  # fmt: skip
_TSV_VALUE = {"N": "1320279566.452687", "IP": "192.168.2.76", "I": "80"}
TSV_LINES = {
    name: "\t".join(_TSV_VALUE.get(f.partition(":")[2], "x-1") for f in fields.split())
    for name, fields in TSV_FIELDS.items()
}
TSV_CAPTURES = {
    name: {f.partition(":")[0]: _TSV_VALUE.get(f.partition(":")[2], "x-1") for f in fields.split()}
    for name, fields in TSV_FIELDS.items()
}

# -- bacula: job messages as Bacula prints them (a job report's lines) ---------------------
BACULA_LINES = {
    "BACULA_LOG_MAX_CAPACITY": 'User defined maximum volume capacity 1,073,741,824 exceeded on device "FileStorage" (/var/lib/bacula).',
    "BACULA_LOG_END_VOLUME": 'End of medium on Volume "Vol-0001" Bytes=1,073,741,824 Blocks=16,644 at 26-Nov-2026 05:00.',
    "BACULA_LOG_NEW_VOLUME": 'Created new Volume "Vol-0002" in catalog.',
    "BACULA_LOG_NEW_LABEL": 'Labeled new Volume "Vol-0002" on file device "FileStorage" (/var/lib/bacula).',
    "BACULA_LOG_WROTE_LABEL": 'Wrote label to prelabeled Volume "Vol-0002" on device "FileStorage" (/var/lib/bacula)',
    "BACULA_LOG_NEW_MOUNT": 'New volume "Vol-0002" mounted on device "FileStorage" (/var/lib/bacula) at 26-Nov-2026 05:00.',
    "BACULA_LOG_NOOPEN": "   Cannot open /etc/shadow-: ERR=Permission denied",
    "BACULA_LOG_NOOPENDIR": '   Could not open directory "/root/.cache": ERR=Permission denied',
    "BACULA_LOG_NOSTAT": "   Could not stat /var/run/x.sock: ERR=No such file or directory",
    "BACULA_LOG_NOJOBS": 'There are no more Jobs associated with Volume "Vol-0001". Marking it purged.',
    "BACULA_LOG_ALL_RECORDS_PRUNED": 'All records pruned from Volume "Vol-0001"; marking it "Purged"',
    "BACULA_LOG_BEGIN_PRUNE_JOBS": "Begin pruning Jobs older than 6 months 0 days .",
    "BACULA_LOG_BEGIN_PRUNE_FILES": "Begin pruning Files.",
    "BACULA_LOG_PRUNED_JOBS": "Pruned 3 Jobs for client client1-fd from catalog.",
    "BACULA_LOG_PRUNED_FILES": "Pruned Files from 2 Jobs for client client1-fd from catalog.",
    "BACULA_LOG_ENDPRUNE": "End auto prune.",
    "BACULA_LOG_STARTJOB": "Start Backup JobId 1234, Job=Client1.2026-11-26_05.00.00_03",
    "BACULA_LOG_STARTRESTORE": "Start Restore Job RestoreFiles.2026-11-26_05.00.00_04",
    "BACULA_LOG_USEDEVICE": 'Using Device "FileStorage"',
    "BACULA_LOG_DIFF_FS": "     /proc is a different filesystem. Will not descend from / into it.",
    "BACULA_LOG_JOBEND": "Job write elapsed time = 00:01:02, Transfer rate = 1.5 M Bytes/second",
    "BACULA_LOG_NOPRUNE_JOBS": "No Jobs found to prune.",
    "BACULA_LOG_NOPRUNE_FILES": "No Files found to prune.",
    "BACULA_LOG_VOLUME_PREVWRITTEN": 'Volume "Vol-0001" previously written, moving to end of data.',
    "BACULA_LOG_READYAPPEND": 'Ready to append to end of Volume "Vol-0001" size=123456',
    "BACULA_LOG_CANCELLING": "Cancelling duplicate JobId=1233.",
    "BACULA_LOG_MARKCANCEL": "JobId 1233, Job Client1.2026-11-26_05.00.00_02 marked to be canceled.",
    "BACULA_LOG_CLIENT_RBJ": 'shell command: run ClientRunBeforeJob "/usr/local/bin/dump-db.sh"',
    "BACULA_LOG_VSS": "Generate VSS Writer",
    "BACULA_LOG_MAXSTART": "Fatal error: Job canceled because max start delay time exceeded.",
    "BACULA_LOG_DUPLICATE": "Fatal error: JobId 1233 already running. Duplicate job not allowed.",
    "BACULA_LOG_NOJOBSTAT": "Fatal error: No Job status returned from FD.",
    "BACULA_LOG_FATAL_CONN": "Fatal error: bsock.c:133 Unable to connect to Client: client1-fd on client1.example.com:9102. ERR=Connection refused",
    "BACULA_LOG_NO_CONNECT": "Warning: bsock.c:127 Could not connect to Storage daemon on sd.example.com:9103. ERR=Connection refused",
    "BACULA_LOG_NO_AUTH": "Fatal error: Unable to authenticate with File daemon at client1.example.com. Possible causes:",
    "BACULA_LOG_NOSUIT": "No prior or suitable Full backup found in catalog for the current FileSet. Doing FULL backup.",
    "BACULA_LOG_NOPRIOR": "No prior Full backup Job record found.",
    "BACULA_LOG_JOB": "Error: Bacula backup-dir 9.6.7 (10Dec20):",
}  # fmt: skip
_BAC = list(BACULA_LINES)
BACULA_LINE = "26-Nov 05:00 backup-dir JobId 1234: "

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
    "BIND9_TIMESTAMP": (["26-Nov-2026 05:00:01.123"], ["2026-11-26 05:00:01"]),
    "BIND9": ([BIND], [BIND.replace("#53211", ":53211")]),
    "EXIM_MSGID": (["16ZCW1-0005MB-00", "1rABCD-000abcdeFGH-0001"], ["16ZCW1-0005MB", "x-y-z"]),
    "EXIM_FLAGS": (["<=", "=>", "->", "*>", "**", "==", "<>", ">>"], ["<", "=<"]),
    "EXIM_DATE": (["2002-10-31 08:57:53"], ["31/10/2002 08:57:53"]),
    "EXIM_PID": (["[1234]"], ["1234", "[0]"]),
    "EXIM_QT": (["1d2h3m", "45s", ""], ["1x", "h1"]),
    "EXIM_EXCLUDE_TERMS": (["Message is frozen", "Start queue run"], ["Message delivered"]),
    "EXIM_REMOTE_HOST": (
        ["H=mailer.fict.example [192.168.123.123]", "H=(helo) [10.0.0.1]:25"],
        ["H=mailer.fict.example"],
    ),
    "EXIM_INTERFACE": (["I=[10.0.0.1]:25"], ["I=10.0.0.1:25", "I=[10.0.0.1]"]),
    "EXIM_PROTOCOL": (["P=esmtps"], ["P=", "S=1"]),
    "EXIM_MSG_SIZE": (["S=5678"], ["S=x"]),
    "EXIM_HEADER_ID": (["id=f828ca60412d@dwarf.fict.example"], ["id="]),
    "EXIM_SUBJECT": (['T="Hello world"'], ["T=Hello"]),
    "RUUID": (["0123456789abcdef0123456789abcdef"], ["0123", "g123456789abcdef0123456789abcdef"]),
    "RCONTROLLER": (["HomeController#index", "Admin::Users#show"], ["HomeController", "#x"]),
    "RAILS3HEAD": ([DOC_RAILS.split("\n")[0]], ["Started GET / for 127.0.0.1"]),
    "RPROCESSING": (["Processing by HomeController#index as HTML"], ["Processing HTML"]),
    "RAILS3PROFILE": (["(Views: 78.8ms | ActiveRecord: 0.0ms", "(ActiveRecord: 1ms", ""], ["x"]),
    "RAILS3FOOT": ([DOC_RAILS.split("\n")[3]], ["Completed in 79ms"]),
    "RAILS3": ([DOC_RAILS], ["Processing by HomeController#index as HTML"]),
    "MONGO_LOG": ([MONGO2], [DOC_MONGO3]),
    "MONGO_QUERY": (['{ name: "x" }'], ["name: x"]),
    "MONGO_WORDDASH": (["my-db_1"], ["a.b", "a b"]),
    "MONGO_SLOWQUERY": ([MONGO_SLOW], [MONGO2]),
    "MONGO3_SEVERITY": (["I", "W"], ["IN", ""]),
    "MONGO3_COMPONENT": (["NETWORK", "-"], ["A B", ""]),
    "MONGO3_LOG": ([DOC_MONGO3], [MONGO2]),
    "MAVEN_VERSION": (["1.2.3", "1.2.3-SNAPSHOT", "2.0.RELEASE", "4"], ["1.2.3-beta", "v1"]),
    "RUBY_LOGLEVEL": (["INFO", "FATAL"], ["info", "TRACE"]),
    "RUBY_LOGGER": ([DOC_RUBY], [MCO.replace("#1234", "1234")]),
    "MCOLLECTIVEAUDIT": (["2026-11-26T05:00:01.123456+00:00:"], ["2026-11-26T05:00:01"]),
    "MCOLLECTIVE": ([MCO.split(" --")[0]], ["[2026-11-26T05:00:01.123456 #1234]  INFO"]),
    "RT_FLOW_EVENT": (["RT_FLOW_SESSION_CREATE", "RT_FLOW_SESSION_DENY"], ["RT_FLOW_X"]),
    "RT_FLOW1": ([JUNOS_CLOSE], [JUNOS_CREATE]),
    "RT_FLOW2": ([JUNOS_CREATE], [JUNOS_CLOSE]),
    "RT_FLOW3": ([JUNOS_DENY], [JUNOS_CREATE]),
    # each firewall message pattern: its line, and the next pattern's line as a non-match
    **{
        name: ([line], [FIREWALL_LINES[_FW[(i + 1) % len(_FW)]]])
        for i, (name, line) in enumerate(FIREWALL_LINES.items())
    },
    **{
        name: ([line], [NAGIOS_LINES[_NAG[(i + 1) % len(_NAG)]]])
        for i, (name, line) in enumerate(NAGIOS_LINES.items())
    },
    **{name: ([text], [text.lower(), "x"]) for name, text in NAGIOS_TYPES.items()},
    **{name: ([text], [text.lower(), "x"]) for name, text in NAGIOS_COMMANDS.items()},
    "NAGIOSTIME": (["[1427925689]"], ["1427925689", "[x]"]),
    "NAGIOSLOGLINE": (
        ["[1427925689] " + line for line in NAGIOS_LINES.values()],
        ["1427925689 SERVICE ALERT: a;b;c;d;e;f", "[1] UNKNOWN THING: a;b"],
    ),
    **{name: ([line], [line.replace("\t", " ")]) for name, line in TSV_LINES.items()},
    **{
        name: ([line], [BACULA_LINES[_BAC[(i + 1) % len(_BAC)]]])
        for i, (name, line) in enumerate(BACULA_LINES.items())
    },
    "BACULA_TIMESTAMP": (["26-Nov 05:00", "26-Nov-2026 05:00"], ["2026-11-26 05:00"]),
    "BACULA_HOST": (["backup-dir"], ["a.b", "a b"]),
    "BACULA_VOLUME": (["Vol-0001"], ["Vol 1"]),
    "BACULA_DEVICE": (["FileStorage"], ["File Storage"]),
    "BACULA_DEVICEPATH": (["/var/lib/bacula"], ["var/lib"]),
    "BACULA_CAPACITY": (["1,073,741,824", "512"], ["1073,741", "1,07"]),
    "BACULA_VERSION": (["9.6.7"], ["9 6"]),
    "BACULA_JOB": (["Client1.2026-11-26_05.00.00_03"], ["a b"]),
    "BACULA_LOGLINE": (
        [BACULA_LINE + line for line in BACULA_LINES.values()],
        ["backup-dir JobId 1234: Begin pruning Files.", BACULA_LINE + "Something else."],
    ),
    "CISCOTIMESTAMP": (["Nov 26 2026 05:00:01", "Nov  6 05:00:01"], ["2026-11-26 05:00:01"]),
    "CISCOTAG": (["ASA-6-302013", "PIX-4-106023"], ["ASA-6", "asa-6-302013"]),
    "CISCO_ACTION": (["Built", "denied by ACL", "est-allowed"], ["built", "Allowed"]),
    "CISCO_REASON": (["DNS Response", "TCP FINs", ""], ["a  b", "x:y"]),
    "CISCO_DIRECTION": (["inbound", "Outbound"], ["INBOUND", "in"]),
    "CISCO_INTERVAL": (["first hit", "300-second interval"], ["300 second interval"]),
    "CISCO_XLATE_TYPE": (["static", "dynamic"], ["Static"]),
    "CISCO_HITCOUNT_INTERVAL": (
        ["hit-cnt 1 first hit", "hit-cnt 5 300-second interval"],
        ["hit-cnt x"],
    ),
    "CISCO_IFNAME": (["outside", "dmz-1"], ["out:side", "a/b"]),
    "CISCO_FAILOVER_UNIT": (["(Primary)", "(Secondary)"], ["Primary", "(Tertiary)"]),
    "CISCO_FWUSER": (["LOCAL\\bob"], ["a b", "(x)"]),
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
    ("%{BIND9}", BIND, {
        "timestamp": "26-Nov-2026 05:00:01.123", "loglevel": "info", "clientip": "192.0.2.1",
        "clientport": "53211", "query": "www.example.com", "querytype": "A",
        "dns": "192.0.2.53"}),
    ("%{EXIM_DATE:timestamp} %{EXIM_MSGID:msgid} %{EXIM_FLAGS:flags} %{NOTSPACE:from} "
     "%{EXIM_REMOTE_HOST} U=%{WORD:user} %{EXIM_PROTOCOL} %{EXIM_MSG_SIZE} %{EXIM_HEADER_ID}",
     DOC_EXIM, {
        "timestamp": "2002-10-31 08:57:53", "msgid": "16ZCW1-0005MB-00", "flags": "<=",
        "from": "kryten@dwarf.fict.example", "remote_hostname": "mailer.fict.example",
        "remote_host": "192.168.123.123", "user": "exim", "protocol": "smtp",
        "exim_msg_size": "5678", "exim_header_id": "f828ca60412d@dwarf.fict.example"}),
    ("%{RAILS3}", DOC_RAILS, {
        "verb": "GET", "request": "/", "clientip": "127.0.0.1",
        "timestamp": "2012-09-27 14:42:58 -0700", "controller": "HomeController",
        "action": "index", "format": "HTML",
        "context": "\n  Rendered home/index.html.erb within layouts/application (0.2ms)\n",
        "response": "200", "totalms": "79", "viewms": "78.8", "activerecordms": "0.0"}),
    ("%{MONGO3_LOG}", DOC_MONGO3, {
        "timestamp": "2014-11-03T18:28:32.450-0500", "severity": "I", "component": "NETWORK",
        "context": "initandlisten", "message": "waiting for connections on port 27017"}),
    ("%{MONGO_LOG}", MONGO2, {
        "timestamp": "Nov 26 05:00:01", "component": "initandlisten",
        "message": "waiting for connections on port 27017"}),
    ("%{MONGO_SLOWQUERY}", MONGO_SLOW, {
        "database": "test", "collection": "users", "query": '{ name: "x" }',
        "ntoreturn": "0", "ntoskip": "0", "nscanned": "10", "nreturned": "1",
        "duration": "105"}),
    ("%{RUBY_LOGGER}", DOC_RUBY, {
        "timestamp": "1999-03-03T02:34:24.895701", "pid": "19074", "loglevel": "INFO",
        "progname": "Main", "message": "info."}),
    ("%{MCOLLECTIVE}", MCO, {
        "timestamp": "2026-11-26T05:00:01.123456", "pid": "1234", "event_level": "INFO"}),
    ("%{RT_FLOW1}", JUNOS_CLOSE, {
        "event": "RT_FLOW_SESSION_CLOSE", "close-reason": "TCP FIN", "src-ip": "10.0.0.1",
        "src-port": "51234", "dst-ip": "192.0.2.1", "dst-port": "80", "service": "junos-http",
        "nat-src-ip": "203.0.113.1", "nat-src-port": "40000", "nat-dst-ip": "192.0.2.1",
        "nat-dst-port": "80", "src-nat-rule-name": "source-rule-1", "dst-nat-rule-name": "None",
        "protocol-id": "6", "policy-name": "default-permit", "from-zone": "trust",
        "to-zone": "untrust", "session-id": "4023", "sent": "1132", "received": "4325",
        "elapsed-time": "3"}),
    ("%{RT_FLOW3}", JUNOS_DENY, {
        "event": "RT_FLOW_SESSION_DENY", "src-ip": "10.0.0.1", "src-port": "51234",
        "dst-ip": "192.0.2.1", "dst-port": "23", "service": "junos-telnet", "protocol-id": "6",
        "policy-name": "deny-telnet", "from-zone": "trust", "to-zone": "untrust"}),
    ("%{CISCO_TAGGED_SYSLOG} %{CISCOFW302013_302014_302015_302016}", ASA_TAGGED, {
        "syslog_pri": "166", "timestamp": "Nov 26 2026 05:00:01", "sysloghost": "fw01",
        "ciscotag": "ASA-6-302014", "action": "Teardown", "protocol": "TCP",
        "connection_id": "123", "src_interface": "outside", "src_ip": "10.1.1.1",
        "src_port": "1234", "dst_interface": "inside", "dst_ip": "192.0.2.1", "dst_port": "80",
        "duration": "0:00:01", "bytes": "1024", "reason": "TCP FINs"}),
    ("%{SHOREWALL}", FIREWALL_LINES["SHOREWALL"], {
        "timestamp": "Nov 26 05:00:01", "nf_host": "gw", "nf_action1": "net2fw",
        "nf_action2": "DROP", "nf_in_interface": "eth0", "nf_dst_mac": "00:11:22:33:44:55",
        "nf_src_mac": "66:77:88:99:aa:bb", "nf_src_ip": "10.1.1.1", "nf_dst_ip": "192.0.2.1",
        "nf_len": "60", "nf_tos": "0x00", "nf_prec": "0x00", "nf_ttl": "52", "nf_id": "12345",
        "nf_protocol": "TCP", "nf_src_port": "51234", "nf_dst_port": "22"}),
    ("%{NAGIOSLOGLINE}", "[1427925689] " + NAGIOS_LINES["NAGIOS_SERVICE_ALERT"], {
        "nagios_epoch": "1427925689", "nagios_type": "SERVICE ALERT",
        "nagios_hostname": "web1", "nagios_service": "HTTP", "nagios_state": "CRITICAL",
        "nagios_statelevel": "HARD", "nagios_attempt": "3",
        "nagios_message": "CRITICAL - Socket timeout"}),
    ("%{NAGIOSLOGLINE}", "[1427925689] " + NAGIOS_LINES["NAGIOS_EC_LINE_SCHEDULE_SERVICE_DOWNTIME"], {
        "nagios_epoch": "1427925689", "nagios_type": "EXTERNAL COMMAND",
        "nagios_command": "SCHEDULE_SERVICE_DOWNTIME", "nagios_hostname": "web1",
        "nagios_service": "HTTP", "nagios_start_time": "1427925600",
        "nagios_end_time": "1427929200", "nagios_fixed": "1", "nagios_trigger_id": "0",
        "nagios_duration": "3600", "author": "admin", "nagios_comment": "patching"}),
    *[("%{" + name + "}", line, TSV_CAPTURES[name]) for name, line in TSV_LINES.items()],
    ("%{ZEEK_CONN}", DOC_ZEEK_CONN, {
        "ts": "1300475167.096535", "uid": "CRkwBA3xeEV9dzj1n", "orig_h": "141.142.220.202",
        "orig_p": "5353", "resp_h": "224.0.0.251", "resp_p": "5353", "proto": "udp",
        "service": "dns", "conn_state": "S0", "missed_bytes": "0", "history": "D",
        "orig_pkts": "1", "orig_ip_bytes": "73", "resp_pkts": "0", "resp_ip_bytes": "0"}),
    ("%{BACULA_LOGLINE}", BACULA_LINE + BACULA_LINES["BACULA_LOG_NEW_MOUNT"], {
        "bts": "26-Nov 05:00", "hostname": "backup-dir", "jobid": "1234",
        "device": "FileStorage", "device_path": "/var/lib/bacula", "volume": "Vol-0002",
        "timestamp": "26-Nov-2026 05:00"}),
    ("%{BACULA_LOGLINE}", BACULA_LINE + BACULA_LINES["BACULA_LOG_FATAL_CONN"], {
        "bts": "26-Nov 05:00", "hostname": "backup-dir", "jobid": "1234",
        "client": "client1-fd", "berror": "Connection refused"}),
]  # fmt: skip
