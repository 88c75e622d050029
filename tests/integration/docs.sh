#!/bin/sh
# The documentation moves with the option table: --help (generated from
# option_table), the man page's option list and the bash completion must
# list the same options in the same order, the man page must lint clean and
# document every exit status.
. "$TOP_SRCDIR/tests/integration/lib.sh"

MAN="$TOP_SRCDIR/man/tlsnc.1"
COMP="$TOP_SRCDIR/contrib/tlsnc"

# A nonzero exit here is a broken set-up, not a failed check.
bail() {
	echo "Bail out! $*"
	exit 1
}

[ -r "$MAN" ] || bail "no man page at $MAN"
[ -r "$COMP" ] || bail "no completion at $COMP"

"$TLSNC" --help > "$T/help" 2> "$T/help.err" ||
    bail "tlsnc --help failed"

# Each --help line that starts with an option, as "opt" or "opt arg" per
# option, one per line, the argument in lower case: "-p port",
# "--source-port port".  Letters keep their case: -C is not -c.
awk '
/^ +-/ {
	n = 0
	arg = ""
	for (i = 1; i <= NF; i++) {
		f = $i
		sub(/,$/, "", f)
		# "--ssl-info[=FORMAT]", "--ssl-ocsp[=require]": an optional
		# argument, attached.
		if (f ~ /^--[A-Za-z0-9-]+\[=[A-Za-z0-9_]+\]$/ && arg == "") {
			i0 = index(f, "[")
			opt[++n] = substr(f, 1, i0 - 1)
			arg = " " tolower(substr(f, i0))
			continue
		}
		if (f ~ /^--?[A-Za-z0-9]/ && arg == "")
			opt[++n] = f
		else if (f ~ /^[A-Z0-9:_]+$/ && n > 0 && arg == "")
			arg = " " tolower(f)
		else
			break
	}
	# "-p, --source-port PORT": the argument belongs to both forms.
	for (i = 1; i <= n; i++)
		print opt[i] arg
}' "$T/help" > "$T/help.opts"

n=$(wc -l < "$T/help.opts")
[ "$n" -ge 10 ] || bail "found only $n options in --help"
cut -d' ' -f1 "$T/help.opts" > "$T/help.names"

# The same from the man page: the ".It Fl" lines under DESCRIPTION.
awk '
/^\.Sh / { indesc = ($2 == "DESCRIPTION"); next }
indesc && /^\.It Fl / {
	last = ""
	for (i = 2; i <= NF; i++) {
		if ($i == "Fl" && i < NF) {
			if (last != "")
				print last
			o = $(++i)
			gsub(/\\-/, "-", o)
			last = "-" o
		} else if ($i == "Ar" && i < NF && last != "") {
			last = last " " tolower($(++i))
		} else if ($i == "Ns" && $(i + 1) == "Op" && $(i + 2) == "=" &&
		    $(i + 3) == "Ns" && $(i + 4) == "Ar" && last != "") {
			# "Fl x Ns Op = Ns Ar y": an optional argument.
			last = last " [=" tolower($(i + 5)) "]"
			i += 5
		} else if ($i == "Ns" && $(i + 1) == "Op" && $(i + 2) == "Cm" &&
		    $(i + 3) ~ /^=/ && last != "") {
			# "Fl x Ns Op Cm =y": an optional literal argument.
			last = last " [" tolower($(i + 3)) "]"
			i += 3
		}
	}
	if (last != "")
		print last
}' "$MAN" > "$T/man.opts"

if cmp -s "$T/help.opts" "$T/man.opts"; then
	ok "the man page lists the options of --help, in order, with arguments"
else
	not_ok "the man page lists the options of --help, in order, with arguments"
	diag "--help (<) against man/tlsnc.1 DESCRIPTION (>):"
	diff "$T/help.opts" "$T/man.opts" | sed 's/^/#   /'
fi

# The completion's option array, one word per line.
awk '
/^[ \t]*local opts=\(/ { inlist = 1; next }
inlist && /^[ \t]*\)/ { inlist = 0 }
inlist { for (i = 1; i <= NF; i++) print $i }' "$COMP" > "$T/comp.names"

if [ -s "$T/comp.names" ] && cmp -s "$T/help.names" "$T/comp.names"; then
	ok "contrib/tlsnc completes the options of --help, in order"
else
	not_ok "contrib/tlsnc completes the options of --help, in order"
	diag "--help (<) against contrib/tlsnc (>):"
	diff "$T/help.names" "$T/comp.names" | sed 's/^/#   /'
fi

# Every option that takes an argument has a case in the completion, so that
# the argument is not completed as an option.  An optional argument is
# attached to its option, and is not a word of its own.
grep ' [^[]' "$T/help.opts" | cut -d' ' -f1 | sort > "$T/help.argopts"
sed -e ':a' -e '/\\$/N; s/\\\n[[:space:]]*//; ta' "$COMP" |
    grep -E '^[[:space:]]*-[-A-Za-z0-9|]*\)[[:space:]]*$' |
    tr -d ' \t)' | tr '|' '\n' | sort > "$T/comp.argopts"
if cmp -s "$T/help.argopts" "$T/comp.argopts"; then
	ok "contrib/tlsnc handles the argument of each option that takes one"
else
	not_ok "contrib/tlsnc handles the argument of each option that takes one"
	diff "$T/help.argopts" "$T/comp.argopts" | sed 's/^/#   /'
fi

mandoc -Tlint -W warning "$MAN" > "$T/lint" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && [ ! -s "$T/lint" ]; then
	ok "mandoc -Tlint -W warning is clean"
else
	not_ok "mandoc -Tlint -W warning is clean"
	diag "mandoc exited $rc"
	diag_file "$T/lint"
fi

"$TLSNC" --version > "$T/version" 2> "$T/version.err"
rc=$?
if [ "$rc" -eq 0 ] && grep -Eq '^tlsnc [0-9]' "$T/version" &&
    grep -Eq 'OpenSSL 3\.[0-9]+' "$T/version" && [ ! -s "$T/version.err" ]
then
	ok "--version names tlsnc and OpenSSL 3"
else
	not_ok "--version names tlsnc and OpenSSL 3"
	diag "exit status $rc"
	diag_file "$T/version"
	diag_file "$T/version.err"
fi

"$TLSNC" -h > "$T/h" 2> "$T/h.err"
rc=$?
if [ "$rc" -eq 0 ] && [ ! -s "$T/h.err" ] && cmp -s "$T/h" "$T/help"; then
	ok "-h exits 0, prints the summary and nothing on stderr"
else
	not_ok "-h exits 0, prints the summary and nothing on stderr"
	diag "exit status $rc"
	diag_file "$T/h.err"
fi

# The EXIT STATUS section: its ".It N" entries.
awk '
/^\.Sh / { inexit = ($2 == "EXIT" && $3 == "STATUS"); next }
inexit && /^\.It [0-9]+$/ { print $2 }' "$MAN" > "$T/man.status"
for s in 0 1 2 3 4 5 6; do
	check "EXIT STATUS documents status $s" grep -qx "$s" "$T/man.status"
done

done_testing
