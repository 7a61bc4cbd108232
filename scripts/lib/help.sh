# The --help of the project's shell scripts, sourced by each of them (POSIX sh, so bash and sh
# scripts share it). A script's help is its header comment: the comment lines after the `#!`
# line, up to the first line that is not a comment, printed without their leading "# ". So the
# comment a reader sees in the file and what --help prints are one text.
#
#   . "$(dirname "$0")/../scripts/lib/help.sh"
#   case "$1" in -h | --help) print_help "$0"; exit 0 ;; esac
#   ...
#   *) unknown_option throughput "$0" "$1" ;;     # one line on stderr, exit status 2

# print_help SCRIPT: SCRIPT's header comment on stdout.
print_help() {
  sed -n '2,/^[^#]/{
/^#/!q
s/^# \{0,1\}//
p
}' "$1"
}

# unknown_option NAME SCRIPT OPTION: "NAME: unknown option OPTION (see SCRIPT --help)" on
# stderr, then exit 2.
unknown_option() {
  echo "$1: unknown option $3 (see $2 --help)" >&2
  exit 2
}
