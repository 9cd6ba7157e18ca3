#!/usr/bin/env python3
# Writes the fz-* cases of the malformed-spec corpus (IPv6/IPv4 edge forms,
# MACs of wrong lengths, huge numbers, wrong YAML types, nested duplicate
# keys, alias bombs, truncated files, tabs, NULs, non-UTF-8, UTF-16). The
# generated files are committed; run `gen-fz.py tests/bad` after changing
# it. Each expectation was checked by hand against the message.
import os
M='02:00:00:00:00:11'
def svc(vip, real, mac, extra=''):
    return 'service web {\n    vip %s tcp 80;\n    real %s mac %s%s;\n}\n' % (vip, real, mac, extra)
def y(vip, port, addr, mac, extra=''):
    return 'services:\n  - name: web\n    vip: %s\n    protocol: tcp\n    port: %s\n    reals:\n      - {address: %s, mac: %s%s}\n' % (vip, port, addr, mac, extra)
cases = {
 # IPv6 edge forms
 'fz-v6-vip-unspecified.lb': (svc('::','2001:db8::11',M), '3:9', "is the unspecified address"),
 'fz-v6-real-unspecified.lb': (svc('2001:db8::100','::',M), '4:10', "real :: of service 'web' is the unspecified address"),
 'fz-v6-vip-v4-mapped.lb': (svc('::ffff:1.2.3.4','2001:db8::11',M), '3:9', "IPv4-mapped IPv6 address"),
 'fz-v6-real-v4-mapped.lb': (svc('2001:db8::100','::ffff:10.0.0.11',M), '4:10', "IPv4-mapped IPv6 address"),
 'fz-v6-nine-groups.lb': (svc('1:2:3:4:5:6:7:8:9','2001:db8::11',M), '3:9', "invalid IPv6 address '1:2:3:4:5:6:7:8:9'"),
 'fz-v6-seven-groups.lb': (svc('1:2:3:4:5:6:7','2001:db8::11',M), '3:9', "invalid IPv6 address"),
 'fz-v6-two-gaps.lb': (svc('1::2::3','2001:db8::11',M), '3:9', "invalid IPv6 address '1::2::3'"),
 'fz-v6-vip-zone.lb': (svc('2001:db8::100%eth0','2001:db8::11',M), '3:22', "stray character '%'"),
 'fz-v6-brackets.lb': (svc('[2001:db8::100]','2001:db8::11',M), '3:9', "stray character '['"),
 'fz-v6-group-5-digits.lb': (svc('2001:db8::12345','2001:db8::11',M), '3:9', "invalid IPv6 address"),
 'fz-v6-bad-embedded-v4.lb': (svc('2001:db8::1.2.3.4.5','2001:db8::11',M), '3:9', "invalid IPv6 address"),
 'fz-v6-loopback.lb': (svc('::1','2001:db8::11',M), '3:9', "is a loopback address"),
 'fz-v6-multicast.lb': (svc('ff02::1','2001:db8::11',M), '3:9', "is a multicast address"),
 'fz-v6-prefix-129.lb': ('service web {\n    vip 2001:db8::/129 tcp 80;\n    real 2001:db8::11 mac %s;\n}\n' % M, '3:9', "invalid prefix length"),
 'fz-v6-vip-unspecified.yaml': (y('"::"',80,'2001:db8::11','"%s"'%M), '4:10', "is the unspecified address"),
 'fz-v6-v4-mapped.yaml': (y('"::ffff:1.2.3.4"',80,'10.0.0.11','"%s"'%M), '4:10', "IPv4-mapped IPv6 address"),
 'fz-v6-nine-groups.yaml': (y('"1:2:3:4:5:6:7:8:9"',80,'2001:db8::11','"%s"'%M), '4:10', "invalid IPv6 address"),
 'fz-v6-zone.yaml': (y('"fe80::1%eth0"',80,'2001:db8::11','"%s"'%M), '4:10', "zone indexes are not allowed"),
 'fz-v6-brackets.yaml': (y('"[2001:db8::100]"',80,'2001:db8::11','"%s"'%M), '4:10', "invalid IPv6 address"),
 # IPv4 forms
 'fz-v4-as-integer.lb': (svc('4294967396','10.0.0.11',M), '3:9', "invalid IPv4 address"),
 'fz-v4-octet-256.lb': (svc('10.0.0.256','10.0.0.11',M), '3:9', "invalid IPv4 address '10.0.0.256'"),
 'fz-v4-leading-zero.lb': (svc('010.0.0.100','10.0.0.11',M), '3:9', "invalid IPv4 address"),
 'fz-v4-hex-octet.lb': (svc('0x0a.0.0.100','10.0.0.11',M), '3:9', "invalid IPv4 address"),
 'fz-v4-three-octets.lb': (svc('10.0.0','10.0.0.11',M), '3:9', "invalid IPv4 address"),
 'fz-v4-prefix-33.lb': ('service web {\n    vip 10.0.0.100/33 tcp 80;\n    real 10.0.0.11 mac %s;\n}\n' % M, '3:9', "invalid prefix length"),
 # MACs of the wrong length / form
 'fz-mac-seven-bytes.lb': (svc('10.0.0.100','10.0.0.11','02:00:00:00:00:11:22'), '4:24', "invalid MAC address"),
 'fz-mac-one-digit-bytes.lb': (svc('10.0.0.100','10.0.0.11','2:0:0:0:0:11'), '4:24', "invalid MAC address"),
 'fz-mac-three-digit-byte.lb': (svc('10.0.0.100','10.0.0.11','002:00:00:00:00:11'), '4:24', "invalid MAC address"),
 'fz-mac-last-three-digits.lb': (svc('10.0.0.100','10.0.0.11','02:00:00:00:00:011'), '4:24', "invalid MAC address"),
 'fz-mac-dashes.lb': (svc('10.0.0.100','10.0.0.11','02-00-00-00-00-11'), '4:24', "invalid MAC address"),
 'fz-mac-dotted.lb': (svc('10.0.0.100','10.0.0.11','0200.0000.0011'), '4:24', "invalid MAC address"),
 'fz-mac-bare-hex.lb': (svc('10.0.0.100','10.0.0.11','020000000011'), '4:24', "invalid MAC address"),
 'fz-mac-trailing-colon.lb': (svc('10.0.0.100','10.0.0.11','02:00:00:00:00:'), '4:24', "invalid MAC address"),
 'fz-mac-empty-string.lb': (svc('10.0.0.100','10.0.0.11','""'), '4:24', "invalid MAC address ''"),
 'fz-mac-seven-bytes.yaml': (y('10.0.0.100',80,'10.0.0.11','"02:00:00:00:00:11:22"'), '8:35', "invalid MAC address"),
 'fz-mac-integer.yaml': (y('10.0.0.100',80,'10.0.0.11','0x020000000011'), '8:35', "invalid MAC address"),
 'fz-mac-sequence.yaml': (y('10.0.0.100',80,'10.0.0.11','[2, 0, 0, 0, 0, 17]'), '8:35', "'mac' must be a scalar"),
 # Huge numbers
 'fz-num-port-huge.lb': ('service web {\n    vip 10.0.0.100 tcp 99999999999999999999999999;\n    real 10.0.0.11 mac %s;\n}\n' % M, '3:24', "number out of range"),
 'fz-num-weight-2p64.lb': (svc('10.0.0.100','10.0.0.11',M,' weight 18446744073709551617'), '4:49', "number out of range"),
 'fz-num-interval-huge.lb': ('service web {\n    vip 10.0.0.100 tcp 80;\n    real 10.0.0.11 mac %s;\n    check tcp interval 99999999999999999999s;\n}\n' % M, '5:24', "duration too large"),
 'fz-num-rise-2p32.lb': ('service web {\n    vip 10.0.0.100 tcp 80;\n    real 10.0.0.11 mac %s;\n    check tcp rise 4294967296;\n}\n' % M, '5:20', "number out of range"),
 'fz-num-ofport-2p32.lb': (svc('10.0.0.100','10.0.0.11',M,' port 4294967296'), '4:47', "invalid OpenFlow port number"),
 'fz-num-weight-hex.lb': (svc('10.0.0.100','10.0.0.11',M,' weight 0x10'), '4:49', "invalid number '0x10'"),
 'fz-num-weight-plus.lb': (svc('10.0.0.100','10.0.0.11',M,' weight +5'), '4:49', "stray character '+'"),
 'fz-num-port-range-huge.lb': ('service web {\n    vip 10.0.0.100 tcp 80-99999999999;\n    real 10.0.0.11 mac %s;\n}\n' % M, '3:24', "invalid port range"),
 'fz-num-port-huge.yaml': (y('10.0.0.100','99999999999999999999999999','10.0.0.11','"%s"'%M), '6:11', "number out of range"),
 'fz-num-weight-1e400.yaml': (y('10.0.0.100',80,'10.0.0.11','"%s"'%M,', weight: 1e400'), '8:64', "invalid weight '1e400'"),
 'fz-num-weight-inf.yaml': (y('10.0.0.100',80,'10.0.0.11','"%s"'%M,', weight: .inf'), '8:64', "invalid weight '.inf'"),
 'fz-num-weight-hex.yaml': (y('10.0.0.100',80,'10.0.0.11','"%s"'%M,', weight: 0x10'), '8:64', "invalid weight '0x10'"),
 # Wrong types (YAML)
 'fz-type-weight-mapping.yaml': (y('10.0.0.100',80,'10.0.0.11','"%s"'%M,', weight: {value: 3}'), '8:64', "'weight' must be a scalar"),
 'fz-type-vip-sequence.yaml': (y('[10.0.0.100]',80,'10.0.0.11','"%s"'%M), '4:10', "'vip' must be a scalar"),
 'fz-type-port-null.yaml': (y('10.0.0.100','~','10.0.0.11','"%s"'%M), '6:11', "invalid port '~'"),
 'fz-type-port-bool.yaml': (y('10.0.0.100','true','10.0.0.11','"%s"'%M), '6:11', "invalid port 'true'"),
 'fz-type-complex-key.yaml': ('? [complex, key]\n: value\nservices: []\n', '2:3', "keys in the top-level mapping must be scalars"),
 'fz-type-merge-key.yaml': ('services:\n  - <<: {name: web, vip: 10.0.0.100}\n    protocol: tcp\n    port: 80\n', '3:5', "unknown key '<<'"),
 # Duplicate keys, nested
 'fz-dup-key-real.yaml': (y('10.0.0.100',80,'10.0.0.11','"%s"'%M,', address: 10.0.0.12'), '8:56', "duplicate key 'address' in real"),
 'fz-dup-key-check.yaml': ('services:\n  - name: web\n    vip: 10.0.0.100\n    protocol: tcp\n    port: 80\n    check: {type: tcp, rise: 2, rise: 3}\n    reals:\n      - {address: 10.0.0.11, mac: "%s"}\n' % M, '7:33', "duplicate key 'rise' in check"),
 'fz-dup-key-top.yaml': ('services:\n  - name: web\n    vip: 10.0.0.100\n    protocol: tcp\n    port: 80\n    reals:\n      - {address: 10.0.0.11, mac: "%s"}\nservices: []\n' % M, '9:1', "duplicate key 'services' in the top-level mapping"),
 # Anchors and aliases (a billion-laughs bomb; an alias of a service)
 'fz-alias-bomb.yaml': ('a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\ni: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\nservices: *i\n', '2:4', "anchors and aliases are not supported"),
 'fz-alias-service.yaml': ('services:\n  - &s\n    name: web\n    vip: 10.0.0.100\n    protocol: tcp\n    port: 80\n    reals: [{address: 10.0.0.11, mac: "%s"}]\n  - *s\n' % M, '3:5', "anchors and aliases are not supported"),
 # Truncated files
 'fz-trunc-second-service.lb': ('service web {\n    vip 10.0.0.100 tcp 80;\n    real 10.0.0.11 mac %s;\n}\nservice web2 {\n    vip 10.0.0.101 tcp 80;\n    real 10.0.0.11 mac %s;\n' % (M,M), '9:1', "unexpected end of file in service 'web2'"),
 'fz-trunc-mid-mac.lb': ('service web {\n    vip 10.0.0.100 tcp 80;\n    real 10.0.0.11 mac 02:00:00:00:0', '4:37', "unexpected end of file"),
 'fz-trunc-in-string.lb': ('service web {\n    vip 10.0.0.100 tcp 80;\n    real 10.0.0.11 mac %s;\n    check http path "/heal' % M, '5:21', "unterminated string"),
 'fz-trunc-keyword.lb': ('servi', '2:1', "unknown keyword 'servi'"),
 'fz-trunc-mid-scalar.yaml': ('services:\n  - name: web\n    vip: 10.0.0.100\n    protocol: tcp\n    port: 80\n    reals:\n      - {address: 10.0.0.11, mac: "02:00:0', '8:43', "end of stream"),
 'fz-trunc-after-key.yaml': ('services:\n  - name: web\n    vip: 10.0.0.100\n    protocol: tcp\n    port: 80\n    reals:\n      - address: 10.0.0.11\n        mac:', '9:13', "missing value for 'mac'"),
 'fz-trunc-flow-seq.yaml': ('services:\n  - name: web\n    vip: 10.0.0.100\n    protocol: tcp\n    port: 80\n    reals: [', '8:1', "YAML syntax error"),
 'fz-trunc-double-quoted.yaml': ('services:\n  - name: "web\n', '4:1', "end of stream"),
 'fz-trunc-word.yaml': ('servi', '2:1', "the top level must be a mapping"),
 # Tabs
 'fz-tab-in-name.lb': ('service "web\tx" {\n    vip 10.0.0.100 tcp 80;\n    real 10.0.0.11 mac %s;\n}\n' % M, '2:9', "control characters"),
 'fz-tab-indent-seq.yaml': ('services:\n  - name: web\n    vip: 10.0.0.100\n    protocol: tcp\n    port: 80\n    reals:\n\t- {address: 10.0.0.11, mac: "%s"}\n' % M, '8:1', "YAML syntax error"),
 # Several documents, directives
 'fz-two-docs-explicit.yaml': ('services:\n  - name: web\n    vip: 10.0.0.100\n    protocol: tcp\n    port: 80\n    reals:\n      - {address: 10.0.0.11, mac: "%s"}\n...\n---\nservices: []\n' % M, '10:1', "only one YAML document"),
}
binary = {
 'fz-nul-at-end.lb': (svc('10.0.0.100','10.0.0.11',M)+'\0', '6:1', "NUL byte"),
 'fz-nul-in-comment.lb': (svc('10.0.0.100','10.0.0.11',M)+'# trailing \0 comment\n', '6:12', "NUL byte"),
 'fz-utf8-overlong.lb': ('service caf\xc0\xa9 {\n    vip 10.0.0.100 tcp 80;\n}\n', '2:12', "invalid UTF-8 byte 0xc0"),
 'fz-utf8-surrogate.lb': ('service caf\xed\xa0\x80 {\n    vip 10.0.0.100 tcp 80;\n}\n', '2:12', "invalid UTF-8 byte 0xed"),
 'fz-utf8-above-10ffff.lb': ('service caf\xf4\x90\x80\x80 {\n    vip 10.0.0.100 tcp 80;\n}\n', '2:12', "invalid UTF-8 byte 0xf4"),
 'fz-utf8-overlong.yaml': ('services:\n  - name: caf\xc0\xa9\n', '3:14', "not valid UTF-8 (byte 0xc0)"),
}
sidecar = {
 'fz-utf16le.lb': ('\xff\xfes\0e\0r\0v\0i\0c\0e\0', '1:1', "invalid UTF-8 byte 0xff"),
 'fz-utf16le.yaml': ('\xff\xfes\0e\0r\0', '1:1', "not valid UTF-8 (byte 0xff)"),
 'fz-utf16be.yaml': ('\xfe\xff\0s\0e\0r', '1:1', "not valid UTF-8 (byte 0xfe)"),
}
# Importer inputs: ipvsadm rules (*.rules) and keepalived.conf (*.conf).
VS = 'virtual_server 10.0.0.100 80 {\n    lb_kind DR\n    protocol TCP\n'
imports = {
 'fz-imp-ipvsadm-nat.rules': ('-A -t 10.0.0.100:80 -s rr\n-a -t 10.0.0.100:80 -r 10.0.0.11:80 -m\n', '3:37', "uses NAT"),
 'fz-imp-ipvsadm-tunnel.rules': ('-A -t 10.0.0.100:80 -s rr\n-a -t 10.0.0.100:80 -r 10.0.0.11:80 -i\n', '3:37', "IP-in-IP"),
 'fz-imp-ipvsadm-fwmark.rules': ('-A -f 1 -s rr\n', '2:4', "firewall-mark service 1"),
 'fz-imp-ipvsadm-sched-nq.rules': ('-A -t 10.0.0.100:80 -s nq\n', '2:24', "unknown scheduler 'nq'"),
 'fz-imp-ipvsadm-real-no-service.rules': ('-a -t 10.0.0.100:80 -r 10.0.0.11:80 -g\n', '2:1', "no service tcp 10.0.0.100:80"),
 'fz-imp-ipvsadm-port-huge.rules': ('-A -t 10.0.0.100:99999999999 -s rr\n', '2:7', "invalid port"),
 'fz-imp-ipvsadm-weight-huge.rules': ('-A -t 10.0.0.100:80 -s rr\n-a -t 10.0.0.100:80 -r 10.0.0.11:80 -g -w 99999999999999999999\n', '3:43', "number out of range"),
 'fz-imp-ipvsadm-v6-no-brackets.rules': ('-A -t 2001:db8::100:80 -s rr\n', '2:7', "IPv6 addresses are written [ADDRESS]:PORT"),
 'fz-imp-ipvsadm-v6-zone.rules': ('-A -t [fe80::1%eth0]:80 -s rr\n', '2:7', "invalid address"),
 'fz-imp-ipvsadm-v6-nine-groups.rules': ('-A -t [1:2:3:4:5:6:7:8:9]:80 -s rr\n', '2:7', "invalid address"),
 'fz-imp-ipvsadm-v6-mapped.rules': ('-A -t [::ffff:1.2.3.4]:80 -s rr\n-a -t [::ffff:1.2.3.4]:80 -r [2001:db8::11]:80 -g\n', '2:7', "IPv4-mapped IPv6 address"),
 'fz-imp-ipvsadm-unknown-option.rules': ('-A -t 10.0.0.100:80 -s rr --bogus\n', '2:27', "unknown ipvsadm option '--bogus'"),
 'fz-imp-ipvsadm-missing-value.rules': ('-A -t\n', '2:4', "option '-t' needs a value"),
 'fz-imp-ipvsadm-truncated.rules': ('-A -t 10.0.0.100:80 -s', '2:21', "option '-s' needs a value"),
 'fz-imp-ipvsadm-duplicate-service.rules': ('-A -t 10.0.0.100:80 -s rr\n-A -t 10.0.0.100:80 -s wrr\n', '3:1', "added twice (first at line 2)"),
 'fz-imp-ipvsadm-duplicate-real.rules': ('-A -t 10.0.0.100:80 -s rr\n-a -t 10.0.0.100:80 -r 10.0.0.11:80 -g\n-a -t 10.0.0.100:80 -r 10.0.0.11:80 -g\n', '4:24', "added twice"),
 'fz-imp-ipvsadm-netmask.rules': ('-A -t 10.0.0.100:80 -s rr -p 60 -M 255.0.255.0\n', '2:36', "netmask is not contiguous"),
 'fz-imp-ipvsadm-tabs.rules': ('-A\t-t\t10.0.0.100:80\t-s\tnq\n', '2:24', "unknown scheduler 'nq'"),
 'fz-imp-ipvsadm-persistence-huge.rules': ('-A -t 10.0.0.100:80 -s wlc -p71800\n', '2:30', "number out of range (expected 1 to 65535)"),
 # The importer reports a NUL at the start of its line.
 'fz-imp-ipvsadm-nul.rules': ('-A -t 10.0.0.100:80 -s rr\0\n', '2:1', "NUL byte"),
 'fz-imp-keepalived-nat.conf': ('virtual_server 10.0.0.100 80 {\n    lb_kind NAT\n    protocol TCP\n    real_server 10.0.0.11 80 {\n    }\n}\n', '3:13', "uses NAT"),
 'fz-imp-keepalived-unclosed.conf': (VS + '    real_server 10.0.0.11 80 {\n    }\n', '2:30', "missing '}'"),
 'fz-imp-keepalived-stray-close.conf': ('}\n', '2:1', "unmatched '}'"),
 'fz-imp-keepalived-bad-vip.conf': ('virtual_server 10.0.0.300 80 {\n    lb_kind DR\n    protocol TCP\n}\n', '2:16', "invalid IPv4 address '10.0.0.300'"),
 'fz-imp-keepalived-v6-zone.conf': ('virtual_server fe80::1%eth0 80 {\n    lb_kind DR\n    protocol TCP\n}\n', '2:16', "zone indexes are not allowed"),
 'fz-imp-keepalived-port-huge.conf': ('virtual_server 10.0.0.100 99999999 {\n    lb_kind DR\n    protocol TCP\n}\n', '2:27', "invalid port '99999999'"),
 'fz-imp-keepalived-weight-huge.conf': (VS + '    real_server 10.0.0.11 80 {\n        weight 99999999999999999999\n    }\n}\n', '6:16', "number out of range"),
 'fz-imp-keepalived-timer-huge.conf': ('virtual_server 10.0.0.100 80 {\n    delay_loop 99999999\n    lb_kind DR\n    protocol TCP\n}\n', '3:16', "time too large"),
 'fz-imp-keepalived-scheduler.conf': ('virtual_server 10.0.0.100 80 {\n    lb_algo lblcr\n    lb_kind DR\n    protocol TCP\n}\n', '3:13', "unknown scheduler 'lblcr'"),
 'fz-imp-keepalived-deep.conf': ('a {' * 100 + '}' * 100 + '\n', '2:99', "blocks nested too deep"),
 'fz-imp-keepalived-group-missing.conf': ('virtual_server group nosuch {\n    lb_kind DR\n    protocol TCP\n}\n', '2:22', "no virtual_server_group 'nosuch'"),
 'fz-imp-keepalived-include-loop.conf': ('include fz-imp-keepalived-include-loop.conf\n', '2:1', "include loop?"),
 'fz-imp-keepalived-include-bomb.conf': ('include fz-imp-keepalived-include-bomb.conf\ninclude fz-imp-keepalived-include-bomb.conf\ninclude fz-imp-keepalived-include-bomb.conf\n', '2:1', "include loop?"),
 'fz-imp-keepalived-include-device.conf': ('include /dev/zero\n', '2:9', "/dev/zero is not a regular file"),
 # Duplicate services across files: one in an included file, one here.
 'fz-imp-keepalived-dup-across-include.conf': ('include include/fz-dup-a.inc\n' + VS + '    real_server 10.0.0.12 80 {\n    }\n}\n', '3:16', "already used by service"),
 'fz-imp-keepalived-nul.conf': ('virtual_server 10.0.0.100 80 {\0\n}\n', '2:31', "NUL byte"),
}
includes = {
 'include/fz-dup-a.inc': VS + '    real_server 10.0.0.11 80 {\n    }\n}\n',
}

import sys
out = sys.argv[1]
def wr(name, data):
    open(os.path.join(out, name), 'wb').write(data.encode('latin-1'))
os.makedirs(os.path.join(out, 'include'), exist_ok=True)
for name, text in includes.items():
    wr(name, text)
for name, (text, loc, sub) in (list(cases.items()) + list(binary.items())
                               + list(imports.items())):
    wr(name, '# expect: %s: error: %s\n' % (loc, sub) + text)
for name, (text, loc, sub) in sidecar.items():
    wr(name, text)
    wr(name + '.expect', '# expect: %s: error: %s\n' % (loc, sub))
