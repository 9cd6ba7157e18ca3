#!/bin/bash
# Writes the large malformed-spec cases into DIR (run.sh calls this at
# every run rather than committing tens of megabytes): 10 MB lines, words,
# names and scalars, 10 MB of nesting, tens of thousands of services, a
# million lines, a megabyte of binary garbage. Each starts with its
# '# expect:' line like the committed cases; each must still be refused
# within run.sh's time and memory bounds.
#
# Usage: gen-large.sh DIR
set -eu
dir=${1:?usage: gen-large.sh DIR}
mkdir -p "$dir"
cd "$dir"
export LC_ALL=C
MB10=10485760

# N bytes of character C (no newline).
repeat() {
    head -c "$1" /dev/zero | tr '\0' "$2"
}

# A 10 MB word where an address belongs: the message quotes it shortened.
{ printf '# expect: 3:9: error: invalid IPv4 address\nservice web {\n    vip '
  repeat $MB10 A
  printf ' tcp 80;\n    real 10.0.0.11 mac 02:00:00:00:00:11;\n}\n'
} > fz-big-word-10mb.lb

# A 10 MB comment line, then an error on the next line.
{ printf '# expect: 4:9: error: invalid IPv4 address\n#'
  repeat $MB10 x
  printf '\nservice web {\n    vip 10.0.0.300 tcp 80;\n}\n'
} > fz-big-comment-10mb.lb

# A 10 MB service name, twice: the message is elided in the middle.
{ printf '# expect: 6:9: error: duplicate service name\n'
  for vip in 10.0.0.100 10.0.0.101; do
      printf 'service "'
      repeat $MB10 w
      printf '" {\n    vip %s tcp 80;\n    real 10.0.0.11 mac 02:00:00:00:00:11;\n}\n' $vip
  done
} > fz-big-name-10mb.lb

# 10 MB of opening braces.
{ printf '# expect: 2:14: error: unexpected '"'"'{'"'"'\nservice web '
  repeat $MB10 '{'
  printf '\n'
} > fz-big-braces-10mb.lb

# 60,000 services (5 MB), the last one a duplicate of the first.
{ printf '# expect: 240002:9: error: duplicate service name '"'"'s0'"'"'\n'
  awk 'BEGIN {
      for (i = 0; i < 60000; i++)
          printf "service s%d {\n    vip 10.%d.%d.%d tcp 80;\n    real 10.200.0.1 mac 02:00:00:00:00:01;\n}\n", i, int(i / 62500), int(i / 250) % 250, i % 250 + 1
      printf "service s0 {\n    vip 10.255.0.1 tcp 80;\n    real 10.200.0.1 mac 02:00:00:00:00:01;\n}\n"
  }'
} > fz-big-many-services.lb

# A million erroneous lines: one error, quickly.
{ printf '# expect: 2:1: error: unexpected '"'"'bogus0'"'"'\n'
  awk 'BEGIN { for (i = 0; i < 1000000; i++) printf "bogus%d;\n", i }'
} > fz-big-million-lines.lb

# 10 MB of NUL bytes after the expectation (flex rescans a token at each
# NUL: this once took minutes).
{ printf '# expect: 2:1: error: NUL byte\n'
  head -c $MB10 /dev/zero
} > fz-big-nul-10mb.lb
{ printf '# expect: 2:1: error: (0x00)\n'
  head -c $MB10 /dev/zero
} > fz-big-nul-10mb.yaml
# 10 MB of a control character: one "stray" token.
{ printf '# expect: 2:1: error: stray character\n'
  repeat $MB10 '\001'
} > fz-big-control-10mb.lb

# A megabyte of binary garbage (no NUL: that has its own case), starting
# with a byte that is never UTF-8. Park-Miller, so that every awk writes
# the same bytes.
garbage() {
    awk 'BEGIN { x = 5; for (i = 0; i < 1048576; i++) {
        x = (x * 16807) % 2147483647; printf "%c", 1 + x % 255 } }'
}
{ printf '# expect: 2:1: error: invalid UTF-8 byte 0xff\n\377'; garbage
} > fz-big-binary-1mb.lb
{ printf '# expect: 2:1: error: not valid UTF-8 (byte 0xff)\n\377'; garbage
} > fz-big-binary-1mb.yaml

# YAML: a 10 MB plain scalar, then an error on the next line.
{ printf '# expect: 4:10: error: invalid vip\nservices:\n  - name: '
  repeat $MB10 w
  printf '\n    vip: 10.0.0.300\n'
} > fz-big-scalar-10mb.yaml

# YAML: one 10 MB line, the error near its end (column 10,485,788).
{ printf '# expect: 2:10485788: error: invalid vip\nservices: [{name: "'
  repeat $MB10 w
  printf '", vip: 10.0.0.300, protocol: tcp, port: 80}]\n'
} > fz-big-flow-line-10mb.yaml

# YAML: 10 MB of '[' (flow nesting), and 3,000 levels of block nesting.
{ printf '# expect: 2:74: error: YAML nesting is too deep\nservices: '
  repeat $MB10 '['
  printf '\n'
} > fz-big-deep-flow-10mb.yaml
{ printf '# expect: 66:64: error: YAML nesting is too deep\nservices:\n'
  awk 'BEGIN { for (i = 0; i < 3000; i++) { for (j = 0; j < i; j++) printf " "; printf "- \n" } }'
} > fz-big-deep-block.yaml
