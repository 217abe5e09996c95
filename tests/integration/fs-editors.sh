#!/bin/bash
# SPDX-License-Identifier: MIT
# Saving config.yaml with the tools users save with: vim (as `vim -es`
# starts: compatible, backupcopy=yes, a copied backup; and nocompatible, as
# vim with defaults.vim: the 4913 probe, the rename to a backup, fsync),
# sed -i (a temporary renamed over), cp and tee. Each valid save starts
# exactly one run and leaves what the tool wrote; each bad save leaves the
# previous run and config untouched and `error` saying why (vim restoring
# its backup after the refusal is no new config); no editor scratch or swap
# file stays behind, but the backup vim keeps after a failed write.
#
#   fs-editors.sh PANTHERFS_BINARY SOURCE_DIR      (TAP on stdout)
. "$(dirname "$0")/fs-lib.sh"
pfs_init fs-editors "$@"

check "pantherfs mounts and engine reads connected" pfs_mount || bail "no mount"

T=$MNT/tests/ed
CFG=$WORK/cfg
EXPECTED=$CFG/expected.yaml
# the error a server's role "peer" gives in the config the brief names
ROLE_ERROR='config.yaml:2:74: services.server.protocol.role: "peer": must be server or client'

check "mkdir tests/ed and cp a config into it" eval 'mkdir "$T" && cp "$CFG/cs.yaml" "$T/config.yaml"'
check "the first run ends succeeded 1 client finished" eq "$(wait_final ed 600)" "succeeded 1 client finished"
cp "$CFG/cs.yaml" "$EXPECTED"

# Nothing in the test directory but its own files. What is left is then
# removed (as a user would), so that the next tool starts clean.
scratch_free() {
	local extra f
	extra=$(ls -A "$T" | grep -vxE 'build\.log|config\.yaml|ctl|error|events|events\.follow|runs|services|status|status\.json|warnings|result\.json|summary\.(tsv|json|svg)')
	[ -z "$extra" ] && return 0
	echo "left in the test directory (now removed with rm):"
	echo "$extra"
	while IFS= read -r f; do
		rm -f -- "$T/$f"
	done <<<"$extra"
	return 1
}

accepted() { count_events "$T/events" config.accepted; }
current_run() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["run"])' "$T/status.json"; }
rejected() { count_events "$T/events" config.rejected; }

# save TOOL SED-EXPRESSION SOURCE-FILE: the edit as a user types it
save() {
	local tool=$1 expr=$2 src=$3
	case $tool in
	vim) (cd "$T" && vim -i NONE -es -c "%s/$expr" -c wq config.yaml </dev/null) ;;
	vim-nocompatible) (cd "$T" && vim -i NONE -Nes -c "%s/$expr" -c wq config.yaml </dev/null) ;;
	sed) sed -i "s/$expr" "$T/config.yaml" ;;
	cp) cp "$src" "$T/config.yaml" ;;
	tee) tee "$T/config.yaml" <"$src" >/dev/null ;;
	esac
}

valid_save() {
	local tool=$1 r a cur new rc
	r=$(nruns ed)
	a=$(accepted)
	if grep -q 'download: 1M' "$EXPECTED"; then cur=1M new=1K; else cur=1K new=1M; fi
	sed "s/download: $cur/download: $new/" "$EXPECTED" >"$CFG/next.yaml"
	save "$tool" "download: $cur/download: $new/" "$CFG/next.yaml" >"$WORK/out/$tool.out" 2>&1
	rc=$?
	check "$tool: a valid save exits 0" eval "[ $rc = 0 ] || { cat '$WORK/out/$tool.out'; false; }"
	wait_until 30 eval '[ "$(nruns ed)" -gt '"$r"' ]'
	local status
	status=$(wait_final ed 120)
	sleep 1 # a second run would show by now
	check "$tool: exactly one new run (runs/ $r -> $((r + 1)))" eq "$(nruns ed)" $((r + 1))
	check "$tool: exactly one more config.accepted" eq "$(accepted)" $((a + 1))
	check "$tool: config.yaml reads what $tool wrote" same_file "$CFG/next.yaml" "$T/config.yaml"
	check "$tool: runs/$((r + 1))/config.yaml is what $tool wrote" same_file "$CFG/next.yaml" "$T/runs/$((r + 1))/config.yaml"
	check "$tool: the new run succeeds with the new config ($new: OK)" eval \
		'eq "$status" "succeeded 1 client finished" && file_has "$T/services/client/logs" "$new: OK"'
	check "$tool: no scratch or swap file is left" scratch_free
	cp "$CFG/next.yaml" "$EXPECTED"
}

# bad_save TOOL ERROR-LINE: the edit gives a server the role "peer" (vim, sed)
# or writes the brief's bad config (cp, tee)
bad_save() {
	local tool=$1 line=$2 r a j st rst rc
	r=$(nruns ed)
	a=$(accepted)
	j=$(rejected)
	st=$(cat "$T/status")
	rst=$(cat "$T/runs/$r/status")
	save "$tool" "role: server/role: peer/" "$CFG/bad.yaml" >"$WORK/out/$tool.bad.out" 2>&1
	rc=$?
	sleep 2 # a run started by mistake would show by now
	wait_final ed 60 >/dev/null
	check "$tool: a bad save reports the failure (exit status $rc)" eval "[ $rc != 0 ] || { cat '$WORK/out/$tool.bad.out'; false; }"
	check "$tool: a bad save starts no run (runs/ stays $r)" eval \
		'eq "$(nruns ed)" '"$r"' || { echo "newest run: $(cat "$T/runs/$(nruns ed)/status" 2>&1)"; false; }'
	check "$tool: a bad save adds no config.accepted" eq "$(accepted)" "$a"
	check "$tool: the previous run is untouched (still the current run, its status unchanged)" eval \
		'eq "$(current_run)" '"$r"' && eq "$(cat "$T/status")" "$st" && eq "$(cat "$T/runs/'"$r"'/status")" "$rst"'
	check "$tool: config.yaml still reads the previous config" same_file "$EXPECTED" "$T/config.yaml"
	check "$tool: error says: $line" file_has "$T/error" "$line"
	check "$tool: a config.rejected event records it" eval '[ "$(rejected)" -gt '"$j"' ]'
	# vim keeps its backup when a write fails (on any filesystem): it must
	# hold the config that is still in force; then it goes, as a user would rm it
	if [ "${tool#vim}" != "$tool" ] && [ -e "$T/config.yaml~" ]; then
		check "$tool: the backup vim keeps after the failed write is the previous config" same_file "$EXPECTED" "$T/config.yaml~"
		rm -f -- "$T/config.yaml~"
	fi
	check "$tool: no scratch or swap file is left" scratch_free
}

for tool in vim vim-nocompatible sed cp tee; do
	valid_save "$tool"
	case $tool in
	vim* | sed) bad_save "$tool" "$ROLE_ERROR" ;;
	*) bad_save "$tool" "$BAD_ERROR" ;;
	esac
done

# the same bad config, closed by a program that looks at close()
check "close() of a bad config fails with EINVAL" eq "$(write_close "$T/config.yaml" "$CFG/bad.yaml")" EINVAL
check "error then holds the exact line: $BAD_ERROR" eq "$(cat "$T/error")" "$BAD_ERROR"

pfs_finish
