#!/bin/sh
# Regenerates the corpus cases that cannot be written with an editor: empty
# files, NUL bytes, bytes that are not UTF-8. The generated files are
# committed; run this from tests/bad after changing it.
set -e
cd "$(dirname "$0")"

# Empty files: no room for a '# expect:' line, so the expectation is a
# sidecar NAME.expect.
: > lb-empty.lb
printf '# expect: 1:1: error: no services defined\n' > lb-empty.lb.expect
: > yaml-empty.yaml
printf '# expect: 1:1: error: empty YAML document\n' > yaml-empty.yaml.expect

# A NUL byte in the middle of a statement (column 19 of line 3).
printf '# expect: 3:19: error: NUL\nservice web {\n    vip 10.0.0.100\000 tcp 80;\n    real 10.0.0.11 mac 02:00:00:00:00:11;\n}\n' \
    > lb-nul-byte.lb
printf '# expect: 3:14: error: 0x00\nservices:\n  - name: web\000\n    vip: 10.0.0.100\n    protocol: tcp\n    port: 80\n' \
    > yaml-nul-byte.yaml

# Latin-1 text (0xe9) where UTF-8 is required: in a service name, and in a
# comment (comments must be UTF-8 too: the whole file is text).
printf '# expect: 2:12: error: UTF-8\nservice caf\351 {\n    vip 10.0.0.100 tcp 80;\n    real 10.0.0.11 mac 02:00:00:00:00:11;\n}\n' \
    > lb-non-utf8.lb
printf '# expect: 2:14: error: UTF-8\n# the web caf\351 service\nservices:\n  - name: web\n    vip: 10.0.0.100\n    protocol: tcp\n    port: 80\n' \
    > yaml-non-utf8.yaml
# A truncated UTF-8 sequence (first byte of a 3-byte character) at the very
# end of the file.
printf '# expect: 3:20: error: UTF-8\nservices:\n  - name: web # caf\342\202' \
    > yaml-truncated-utf8.yaml
