# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_rsetkey_global_optspecs
    string join \n f= c D F x h V help version P a p N l no-keys n r k strict atomic backend= v H show-keys d no-lint no-warn-permissions
end

function __fish_rsetkey_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_rsetkey_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_rsetkey_using_subcommand
    set -l cmd (__fish_rsetkey_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c rsetkey -n "__fish_rsetkey_needs_command" -s f -d 'Run the statements of FILE (`-` for standard input)' -r
complete -c rsetkey -n "__fish_rsetkey_needs_command" -l backend -d 'Which kernel interface to use: PF_KEY when the kernel has it, else XFRM netlink (auto); or one of them' -r -f -a "auto\t'PF_KEY when the kernel has it, XFRM netlink otherwise'
pfkey\t'PF_KEY v2 (what setkey uses)'
xfrm\t'XFRM netlink (what `ip xfrm` uses)'"
complete -c rsetkey -n "__fish_rsetkey_needs_command" -s c -d 'Read statements from standard input and run each as soon as it is read'
complete -c rsetkey -n "__fish_rsetkey_needs_command" -s D -d 'Dump the SAD (with -P: the SPD)'
complete -c rsetkey -n "__fish_rsetkey_needs_command" -s F -d 'Flush the SAD (with -P: the SPD)'
complete -c rsetkey -n "__fish_rsetkey_needs_command" -s x -d 'Monitor every PF_KEY message (twice: raw timestamps)'
complete -c rsetkey -n "__fish_rsetkey_needs_command" -s h -d 'Print setkey\'s short usage, and exit 1'
complete -c rsetkey -n "__fish_rsetkey_needs_command" -s V -d 'Print the version, and exit 1'
complete -c rsetkey -n "__fish_rsetkey_needs_command" -l help -d 'Print every option, and exit 0'
complete -c rsetkey -n "__fish_rsetkey_needs_command" -l version -d 'Print `rsetkey X.Y.Z`, and exit 0'
complete -c rsetkey -n "__fish_rsetkey_needs_command" -s P -d 'With -D / -F: the SPD instead of the SAD'
complete -c rsetkey -n "__fish_rsetkey_needs_command" -s a -d 'With -D: also show dead SAs'
complete -c rsetkey -n "__fish_rsetkey_needs_command" -s p -d 'Show ports in dumps'
complete -c rsetkey -n "__fish_rsetkey_needs_command" -s N -d 'With -DP: hide per-socket policies'
complete -c rsetkey -n "__fish_rsetkey_needs_command" -s l -d 'With -D: repeat every second'
complete -c rsetkey -n "__fish_rsetkey_needs_command" -l no-keys -d 'With -D: print key bytes as `*`, in setkey\'s layout'
complete -c rsetkey -n "__fish_rsetkey_needs_command" -s n -d 'Parse and check only; send nothing'
complete -c rsetkey -n "__fish_rsetkey_needs_command" -s r -d 'RFC semantics (default): an `in` policy also installs its `fwd` twin'
complete -c rsetkey -n "__fish_rsetkey_needs_command" -s k -d 'Kernel semantics: no automatic `fwd` policy'
complete -c rsetkey -n "__fish_rsetkey_needs_command" -l strict -d 'Exit with status 1 when the kernel refuses any statement (setkey reports the error and exits 0)'
complete -c rsetkey -n "__fish_rsetkey_needs_command" -l atomic -d 'With -f: apply the whole script or nothing. The script is tried in a scratch network namespace holding a copy of the SAD and SPD first; a refusal, or SIGINT/SIGTERM/SIGHUP during the real run, restores the databases as they were, and the exit status is not 0'
complete -c rsetkey -n "__fish_rsetkey_needs_command" -s v -d 'Decode every message sent and received'
complete -c rsetkey -n "__fish_rsetkey_needs_command" -s H -d 'Hex-dump messages'
complete -c rsetkey -n "__fish_rsetkey_needs_command" -l show-keys -d 'Show key material in -v output (masked by default)'
complete -c rsetkey -n "__fish_rsetkey_needs_command" -s d -d 'Accepted and ignored, like setkey'
complete -c rsetkey -n "__fish_rsetkey_needs_command" -l no-lint -d 'Do not print lints (on stderr): advice about weak algorithms, replay windows and policies no SA of the script can satisfy'
complete -c rsetkey -n "__fish_rsetkey_needs_command" -l no-warn-permissions -d 'Do not warn (on stderr) when the -f script holds keys and group or others may read or write it, or when anyone may change it'
complete -c rsetkey -n "__fish_rsetkey_needs_command" -a "check" -d 'Check that two hosts\' scripts agree: the same SAs, mirrored policies, an SA for every required request (parse only, no kernel). Exit status 0 when they agree, 1 otherwise'
complete -c rsetkey -n "__fish_rsetkey_needs_command" -a "mirror" -d 'Print the peer\'s script for a host\'s script: the same SAs, every policy mirrored (out on one host is in on the other)'
complete -c rsetkey -n "__fish_rsetkey_needs_command" -a "generate" -d 'Write DIR/HOST.conf (mode 0600) for every host of an inventory, with fresh keys and unique SPIs'
complete -c rsetkey -n "__fish_rsetkey_using_subcommand check" -l json -d 'Print the mismatches as JSON on stdout'
complete -c rsetkey -n "__fish_rsetkey_using_subcommand mirror" -l local -d 'The address of the host whose script FILE is' -r
complete -c rsetkey -n "__fish_rsetkey_using_subcommand generate" -l out -d 'The directory to write the scripts to' -r
complete -c rsetkey -n "__fish_rsetkey_using_subcommand generate" -l seed -d 'Draw keys and SPIs from a generator seeded with N: the same scripts every time. For tests only: the keys are predictable' -r
complete -c rsetkey -n "__fish_rsetkey_using_subcommand generate" -l rekey -d 'Keep the SPIs of the scripts in DIR, draw new keys'
complete -c rsetkey -n "__fish_rsetkey_using_subcommand generate" -l new-spis -d 'With --rekey: draw new SPIs too'
