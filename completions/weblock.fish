# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_weblock_global_optspecs
    string join \n server= ca-file= json E/conflict-exit-code= h/help V/version
end

function __fish_weblock_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_weblock_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_weblock_using_subcommand
    set -l cmd (__fish_weblock_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c weblock -n "__fish_weblock_needs_command" -l server -d 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]' -r
complete -c weblock -n "__fish_weblock_needs_command" -l ca-file -d 'CA certificates (PEM) that an https:// server\'s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)' -r -F
complete -c weblock -n "__fish_weblock_needs_command" -s E -l conflict-exit-code -d 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock\'s -E' -r
complete -c weblock -n "__fish_weblock_needs_command" -l json -d 'Print one JSON object instead of the human lines, for success and failure alike: the server\'s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)'
complete -c weblock -n "__fish_weblock_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c weblock -n "__fish_weblock_needs_command" -s V -l version -d 'Print version'
complete -c weblock -n "__fish_weblock_needs_command" -f -a "grab" -d 'Take a lock now (or within --wait), print its token, and keep holding it after exit'
complete -c weblock -n "__fish_weblock_needs_command" -f -a "release" -d 'Give a lock up (its token is remembered from `weblock grab`)'
complete -c weblock -n "__fish_weblock_needs_command" -f -a "renew" -d 'Renew the lease of a lock held with --ttl'
complete -c weblock -n "__fish_weblock_needs_command" -f -a "status" -d 'Show who holds a lock, since when, its lease and its queue; without NAME, every lock and gate'
complete -c weblock -n "__fish_weblock_needs_command" -f -a "wait" -d 'Wait until a lock is free (or a gate SERVICE:ENV is open), without taking it'
complete -c weblock -n "__fish_weblock_needs_command" -f -a "gate" -d 'Gates: services with named gates that are open or closed, taken together with tickets'
complete -c weblock -n "__fish_weblock_needs_command" -f -a "wait-grab" -d 'Wait in line for a lock; then print its token, or run a command while holding it'
complete -c weblock -n "__fish_weblock_needs_command" -f -a "break" -d 'End a stuck lock: every holder and waiter of NAME, with the administrator\'s credentials'
complete -c weblock -n "__fish_weblock_needs_command" -f -a "bench" -d 'Measure a server: throughput, hand-over latency, memory of parked waiters'
complete -c weblock -n "__fish_weblock_needs_command" -f -a "serve" -d 'Run the lock service'
complete -c weblock -n "__fish_weblock_needs_command" -f -a "completions" -d 'Print a shell completion script on stdout'
complete -c weblock -n "__fish_weblock_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c weblock -n "__fish_weblock_using_subcommand grab" -l wait -d 'Wait in line up to this long if it is held (e.g. 30s, 5m)' -r
complete -c weblock -n "__fish_weblock_using_subcommand grab" -l ttl -d 'Lease: the lock is freed if not renewed within this (e.g. 30s, 5m)' -r
complete -c weblock -n "__fish_weblock_using_subcommand grab" -l holder -d 'Who holds it, shown in status (default: user@host and the process id; the user is $USER, $LOGNAME, or the uid\'s name)' -r
complete -c weblock -n "__fish_weblock_using_subcommand grab" -l slots -d 'Up to N holders at once (a counting semaphore). The first request of a free lock sets N; asking for another N while it is in use is refused (exit 1)' -r
complete -c weblock -n "__fish_weblock_using_subcommand grab" -l server -d 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]' -r
complete -c weblock -n "__fish_weblock_using_subcommand grab" -l ca-file -d 'CA certificates (PEM) that an https:// server\'s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)' -r -F
complete -c weblock -n "__fish_weblock_using_subcommand grab" -s E -l conflict-exit-code -d 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock\'s -E' -r
complete -c weblock -n "__fish_weblock_using_subcommand grab" -l shared -d 'Hold it shared, beside other shared holders (readers); never beside an exclusive one'
complete -c weblock -n "__fish_weblock_using_subcommand grab" -l json -d 'Print one JSON object instead of the human lines, for success and failure alike: the server\'s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)'
complete -c weblock -n "__fish_weblock_using_subcommand grab" -s h -l help -d 'Print help'
complete -c weblock -n "__fish_weblock_using_subcommand release" -l token -d 'The token from grab (default: the one remembered for NAME)' -r
complete -c weblock -n "__fish_weblock_using_subcommand release" -l server -d 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]' -r
complete -c weblock -n "__fish_weblock_using_subcommand release" -l ca-file -d 'CA certificates (PEM) that an https:// server\'s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)' -r -F
complete -c weblock -n "__fish_weblock_using_subcommand release" -s E -l conflict-exit-code -d 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock\'s -E' -r
complete -c weblock -n "__fish_weblock_using_subcommand release" -l json -d 'Print one JSON object instead of the human lines, for success and failure alike: the server\'s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)'
complete -c weblock -n "__fish_weblock_using_subcommand release" -s h -l help -d 'Print help'
complete -c weblock -n "__fish_weblock_using_subcommand renew" -l ttl -d 'New lease length (default: the one in force)' -r
complete -c weblock -n "__fish_weblock_using_subcommand renew" -l token -d 'The token from grab (default: the one remembered for NAME)' -r
complete -c weblock -n "__fish_weblock_using_subcommand renew" -l server -d 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]' -r
complete -c weblock -n "__fish_weblock_using_subcommand renew" -l ca-file -d 'CA certificates (PEM) that an https:// server\'s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)' -r -F
complete -c weblock -n "__fish_weblock_using_subcommand renew" -s E -l conflict-exit-code -d 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock\'s -E' -r
complete -c weblock -n "__fish_weblock_using_subcommand renew" -l json -d 'Print one JSON object instead of the human lines, for success and failure alike: the server\'s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)'
complete -c weblock -n "__fish_weblock_using_subcommand renew" -s h -l help -d 'Print help'
complete -c weblock -n "__fish_weblock_using_subcommand status" -l server -d 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]' -r
complete -c weblock -n "__fish_weblock_using_subcommand status" -l ca-file -d 'CA certificates (PEM) that an https:// server\'s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)' -r -F
complete -c weblock -n "__fish_weblock_using_subcommand status" -s E -l conflict-exit-code -d 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock\'s -E' -r
complete -c weblock -n "__fish_weblock_using_subcommand status" -l json -d 'Print one JSON object instead of the human lines, for success and failure alike: the server\'s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)'
complete -c weblock -n "__fish_weblock_using_subcommand status" -s h -l help -d 'Print help'
complete -c weblock -n "__fish_weblock_using_subcommand wait" -l timeout -d 'Give up after this long (default: wait for ever)' -r
complete -c weblock -n "__fish_weblock_using_subcommand wait" -l server -d 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]' -r
complete -c weblock -n "__fish_weblock_using_subcommand wait" -l ca-file -d 'CA certificates (PEM) that an https:// server\'s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)' -r -F
complete -c weblock -n "__fish_weblock_using_subcommand wait" -s E -l conflict-exit-code -d 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock\'s -E' -r
complete -c weblock -n "__fish_weblock_using_subcommand wait" -l lock -d 'NAME is a lock even though it has a colon'
complete -c weblock -n "__fish_weblock_using_subcommand wait" -l json -d 'Print one JSON object instead of the human lines, for success and failure alike: the server\'s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)'
complete -c weblock -n "__fish_weblock_using_subcommand wait" -s h -l help -d 'Print help'
complete -c weblock -n "__fish_weblock_using_subcommand gate; and not __fish_seen_subcommand_from create show open close delete enter leave help" -l server -d 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]' -r
complete -c weblock -n "__fish_weblock_using_subcommand gate; and not __fish_seen_subcommand_from create show open close delete enter leave help" -l ca-file -d 'CA certificates (PEM) that an https:// server\'s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)' -r -F
complete -c weblock -n "__fish_weblock_using_subcommand gate; and not __fish_seen_subcommand_from create show open close delete enter leave help" -s E -l conflict-exit-code -d 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock\'s -E' -r
complete -c weblock -n "__fish_weblock_using_subcommand gate; and not __fish_seen_subcommand_from create show open close delete enter leave help" -l json -d 'Print one JSON object instead of the human lines, for success and failure alike: the server\'s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)'
complete -c weblock -n "__fish_weblock_using_subcommand gate; and not __fish_seen_subcommand_from create show open close delete enter leave help" -s h -l help -d 'Print help'
complete -c weblock -n "__fish_weblock_using_subcommand gate; and not __fish_seen_subcommand_from create show open close delete enter leave help" -f -a "create" -d 'Create a service with gates (they start open)'
complete -c weblock -n "__fish_weblock_using_subcommand gate; and not __fish_seen_subcommand_from create show open close delete enter leave help" -f -a "show" -d 'Show a service\'s gates, or every service'
complete -c weblock -n "__fish_weblock_using_subcommand gate; and not __fish_seen_subcommand_from create show open close delete enter leave help" -f -a "open" -d 'Open a gate'
complete -c weblock -n "__fish_weblock_using_subcommand gate; and not __fish_seen_subcommand_from create show open close delete enter leave help" -f -a "close" -d 'Close a gate, with a message for those it stops'
complete -c weblock -n "__fish_weblock_using_subcommand gate; and not __fish_seen_subcommand_from create show open close delete enter leave help" -f -a "delete" -d 'Delete a service and its gates'
complete -c weblock -n "__fish_weblock_using_subcommand gate; and not __fish_seen_subcommand_from create show open close delete enter leave help" -f -a "enter" -d 'Take gates together with a ticket (all of them or none); run a command while holding them'
complete -c weblock -n "__fish_weblock_using_subcommand gate; and not __fish_seen_subcommand_from create show open close delete enter leave help" -f -a "leave" -d 'Give back a ticket\'s gates'
complete -c weblock -n "__fish_weblock_using_subcommand gate; and not __fish_seen_subcommand_from create show open close delete enter leave help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from create" -l group -d 'The team or group it belongs to' -r
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from create" -l env -d 'A gate (environment); repeat for each' -r
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from create" -l server -d 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]' -r
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from create" -l ca-file -d 'CA certificates (PEM) that an https:// server\'s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)' -r -F
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from create" -s E -l conflict-exit-code -d 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock\'s -E' -r
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from create" -l json -d 'Print one JSON object instead of the human lines, for success and failure alike: the server\'s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)'
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from show" -l server -d 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]' -r
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from show" -l ca-file -d 'CA certificates (PEM) that an https:// server\'s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)' -r -F
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from show" -s E -l conflict-exit-code -d 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock\'s -E' -r
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from show" -l json -d 'Print one JSON object instead of the human lines, for success and failure alike: the server\'s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)'
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from open" -l message -d 'A message shown with the gate ("" clears it)' -r
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from open" -l server -d 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]' -r
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from open" -l ca-file -d 'CA certificates (PEM) that an https:// server\'s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)' -r -F
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from open" -s E -l conflict-exit-code -d 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock\'s -E' -r
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from open" -l json -d 'Print one JSON object instead of the human lines, for success and failure alike: the server\'s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)'
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from open" -s h -l help -d 'Print help'
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from close" -l message -d 'A message shown with the gate ("" clears it)' -r
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from close" -l server -d 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]' -r
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from close" -l ca-file -d 'CA certificates (PEM) that an https:// server\'s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)' -r -F
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from close" -s E -l conflict-exit-code -d 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock\'s -E' -r
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from close" -l json -d 'Print one JSON object instead of the human lines, for success and failure alike: the server\'s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)'
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from close" -s h -l help -d 'Print help'
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from delete" -l server -d 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]' -r
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from delete" -l ca-file -d 'CA certificates (PEM) that an https:// server\'s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)' -r -F
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from delete" -s E -l conflict-exit-code -d 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock\'s -E' -r
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from delete" -l json -d 'Print one JSON object instead of the human lines, for success and failure alike: the server\'s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)'
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help'
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from enter" -l timeout -d 'With --queue, give up after this long (default: wait for ever)' -r
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from enter" -l server -d 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]' -r
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from enter" -l ca-file -d 'CA certificates (PEM) that an https:// server\'s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)' -r -F
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from enter" -s E -l conflict-exit-code -d 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock\'s -E' -r
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from enter" -l queue -d 'Wait in line while a gate is closed, instead of giving up'
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from enter" -l json -d 'Print one JSON object instead of the human lines, for success and failure alike: the server\'s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)'
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from enter" -s h -l help -d 'Print help'
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from leave" -l server -d 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]' -r
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from leave" -l ca-file -d 'CA certificates (PEM) that an https:// server\'s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)' -r -F
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from leave" -s E -l conflict-exit-code -d 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock\'s -E' -r
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from leave" -l json -d 'Print one JSON object instead of the human lines, for success and failure alike: the server\'s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)'
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from leave" -s h -l help -d 'Print help'
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create a service with gates (they start open)'
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show a service\'s gates, or every service'
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from help" -f -a "open" -d 'Open a gate'
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from help" -f -a "close" -d 'Close a gate, with a message for those it stops'
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Delete a service and its gates'
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from help" -f -a "enter" -d 'Take gates together with a ticket (all of them or none); run a command while holding them'
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from help" -f -a "leave" -d 'Give back a ticket\'s gates'
complete -c weblock -n "__fish_weblock_using_subcommand gate; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c weblock -n "__fish_weblock_using_subcommand wait-grab" -l timeout -d 'Give up after this long (default: wait for ever)' -r
complete -c weblock -n "__fish_weblock_using_subcommand wait-grab" -l ttl -d 'Lease: the lock is freed if not renewed within this (e.g. 30s, 5m)' -r
complete -c weblock -n "__fish_weblock_using_subcommand wait-grab" -l holder -d 'Who holds it, shown in status (default: user@host and the process id; the user is $USER, $LOGNAME, or the uid\'s name)' -r
complete -c weblock -n "__fish_weblock_using_subcommand wait-grab" -l slots -d 'Up to N holders at once (a counting semaphore). The first request of a free lock sets N; asking for another N while it is in use is refused (exit 1)' -r
complete -c weblock -n "__fish_weblock_using_subcommand wait-grab" -l kill-after -d 'If the lock is lost while CMD runs, CMD gets SIGTERM, then SIGKILL after this' -r
complete -c weblock -n "__fish_weblock_using_subcommand wait-grab" -l server -d 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]' -r
complete -c weblock -n "__fish_weblock_using_subcommand wait-grab" -l ca-file -d 'CA certificates (PEM) that an https:// server\'s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)' -r -F
complete -c weblock -n "__fish_weblock_using_subcommand wait-grab" -s E -l conflict-exit-code -d 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock\'s -E' -r
complete -c weblock -n "__fish_weblock_using_subcommand wait-grab" -l shared -d 'Hold it shared, beside other shared holders (readers); never beside an exclusive one'
complete -c weblock -n "__fish_weblock_using_subcommand wait-grab" -l json -d 'Print one JSON object instead of the human lines, for success and failure alike: the server\'s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)'
complete -c weblock -n "__fish_weblock_using_subcommand wait-grab" -s h -l help -d 'Print help'
complete -c weblock -n "__fish_weblock_using_subcommand break" -l server -d 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]' -r
complete -c weblock -n "__fish_weblock_using_subcommand break" -l ca-file -d 'CA certificates (PEM) that an https:// server\'s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)' -r -F
complete -c weblock -n "__fish_weblock_using_subcommand break" -s E -l conflict-exit-code -d 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock\'s -E' -r
complete -c weblock -n "__fish_weblock_using_subcommand break" -l json -d 'Print one JSON object instead of the human lines, for success and failure alike: the server\'s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)'
complete -c weblock -n "__fish_weblock_using_subcommand break" -s h -l help -d 'Print help'
complete -c weblock -n "__fish_weblock_using_subcommand bench" -l duration -d 'How long each throughput run lasts' -r
complete -c weblock -n "__fish_weblock_using_subcommand bench" -l clients -d 'Client counts for the uncontended throughput runs' -r
complete -c weblock -n "__fish_weblock_using_subcommand bench" -l waiters -d 'Clients taking turns on one lock, for the hand-over latency (0 skips it)' -r
complete -c weblock -n "__fish_weblock_using_subcommand bench" -l handovers -d 'Hand-overs to time' -r
complete -c weblock -n "__fish_weblock_using_subcommand bench" -l parked -d 'Waiters to park on one lock: the server\'s memory while they wait, then whether they are served in FIFO order and how long it takes (0 skips it)' -r
complete -c weblock -n "__fish_weblock_using_subcommand bench" -l server -d 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]' -r
complete -c weblock -n "__fish_weblock_using_subcommand bench" -l ca-file -d 'CA certificates (PEM) that an https:// server\'s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)' -r -F
complete -c weblock -n "__fish_weblock_using_subcommand bench" -s E -l conflict-exit-code -d 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock\'s -E' -r
complete -c weblock -n "__fish_weblock_using_subcommand bench" -l no-durable -d 'Skip the runs against a durable server (--state in a temporary directory)'
complete -c weblock -n "__fish_weblock_using_subcommand bench" -l tls -d 'Also run the throughput and hand-over runs over TLS, against a server with a self-signed certificate (made with the openssl command), beside the plain ones'
complete -c weblock -n "__fish_weblock_using_subcommand bench" -l json -d 'Print the figures as JSON'
complete -c weblock -n "__fish_weblock_using_subcommand bench" -s h -l help -d 'Print help'
complete -c weblock -n "__fish_weblock_using_subcommand serve" -l state -d 'Keep the state in FILE: every change is journaled and synced before it is answered, and a restart (even after kill -9) finds every holder, fence, gate and ticket as it was' -r -F
complete -c weblock -n "__fish_weblock_using_subcommand serve" -l store -d 'Share the state with other weblock servers in etcd: etcd://HOST:PORT[,HOST:PORT...][/PREFIX] (several members: failover between them; PREFIX defaults to weblock). Clients may use any of the servers: one holder per lock, one FIFO queue, fences that never repeat' -r
complete -c weblock -n "__fish_weblock_using_subcommand serve" -l listen -d 'Address to listen on (port 0 picks a free port)' -r
complete -c weblock -n "__fish_weblock_using_subcommand serve" -l threads -d 'Worker threads answering requests (waiting and idle clients hold none). Default: 1 in memory (an event loop: nothing a request does waits, so more threads only add hand-offs), 8 with TLS (handshakes are work worth spreading over cores), at least 32 with --state or --store (threads wait on syncs)' -r
complete -c weblock -n "__fish_weblock_using_subcommand serve" -l max-connections -d 'Open connections at most; the oldest idle one is closed to admit a new one' -r
complete -c weblock -n "__fish_weblock_using_subcommand serve" -l request-timeout -d 'Time a client has to send a whole request, from its first byte (then 408)' -r
complete -c weblock -n "__fish_weblock_using_subcommand serve" -l admin-credentials -d 'File of administrators, one user:password a line (HTTP Basic), for administrative requests; WEBLOCK_ADMIN_CREDENTIALS may hold them instead. Without either, none are allowed' -r -F
complete -c weblock -n "__fish_weblock_using_subcommand serve" -l auth-file -d 'File of secrets, one a line (blank and # lines ignored): every request must then carry one, as `Authorization: Bearer SECRET` or HTTP Basic with SECRET as the password (clients: WEBLOCK_AUTH or WEBLOCK_AUTH_FILE). A bare SECRET line allows what it always did (everything but administrative requests, which need --admin-credentials); a `NAME:SECRET SCOPE...` line allows its scopes: lock:GLOB (take, renew, release, wait on the locks matching; * and ?), gate:SERVICE (that service\'s gates and tickets), read (status, listings, metrics, events), admin (everything, administrative requests included). Read again on SIGHUP' -r -F
complete -c weblock -n "__fish_weblock_using_subcommand serve" -l public-url -d 'The address clients reach this server at, behind a proxy: http[s]://HOST[:PORT], no path. Every absolute URL in answers (HAL Location, request-queue URLs, ticket links) uses it' -r
complete -c weblock -n "__fish_weblock_using_subcommand serve" -l trusted-proxy -d 'A proxy\'s address range (CIDR, IPv4 or IPv6; repeatable): only from peers in these ranges are X-Forwarded-Proto and X-Forwarded-Host used for the URLs in answers (from others, ignored)' -r
complete -c weblock -n "__fish_weblock_using_subcommand serve" -l tls-cert -d 'Speak TLS (https://) on the port, with this certificate (PEM; the server\'s first, then its chain). Read again on SIGHUP: new connections get the new one, open ones keep theirs' -r -F
complete -c weblock -n "__fish_weblock_using_subcommand serve" -l tls-key -d 'The certificate\'s private key (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC). Read again on SIGHUP' -r -F
complete -c weblock -n "__fish_weblock_using_subcommand serve" -l tls-client-ca -d 'Require a client certificate signed by this CA (PEM); its subject\'s CN is the client\'s identity: an --auth-file NAME:SECRET line of that NAME gives its scopes without the secret (without --auth-file, any such client may do everything)' -r -F
complete -c weblock -n "__fish_weblock_using_subcommand serve" -l ticket-ttl -d 'How long a queued gate ticket lives after its last use (the gatekeeper document says 2m)' -r
complete -c weblock -n "__fish_weblock_using_subcommand serve" -l idle-timeout -d 'An idle keep-alive connection is closed after this' -r
complete -c weblock -n "__fish_weblock_using_subcommand serve" -l log-format -d 'One line on stderr per state change (grant, release, expiry, gate opened…): for people (human), for log collectors (json: one object a line), or none (off)' -r -f -a "human\t''
json\t''
off\t''"
complete -c weblock -n "__fish_weblock_using_subcommand serve" -l metrics-locks -d 'Locks named in /metrics\' per-lock series (the busiest; the rest are summed as lock="other")' -r
complete -c weblock -n "__fish_weblock_using_subcommand serve" -l server -r
complete -c weblock -n "__fish_weblock_using_subcommand serve" -l ca-file -r
complete -c weblock -n "__fish_weblock_using_subcommand serve" -s E -l conflict-exit-code -r
complete -c weblock -n "__fish_weblock_using_subcommand serve" -l json
complete -c weblock -n "__fish_weblock_using_subcommand serve" -s h -l help -d 'Print help'
complete -c weblock -n "__fish_weblock_using_subcommand completions" -l server -r
complete -c weblock -n "__fish_weblock_using_subcommand completions" -l ca-file -r
complete -c weblock -n "__fish_weblock_using_subcommand completions" -s E -l conflict-exit-code -r
complete -c weblock -n "__fish_weblock_using_subcommand completions" -l json
complete -c weblock -n "__fish_weblock_using_subcommand completions" -s h -l help -d 'Print help'
complete -c weblock -n "__fish_weblock_using_subcommand help; and not __fish_seen_subcommand_from grab release renew status wait gate wait-grab break bench serve completions help" -f -a "grab" -d 'Take a lock now (or within --wait), print its token, and keep holding it after exit'
complete -c weblock -n "__fish_weblock_using_subcommand help; and not __fish_seen_subcommand_from grab release renew status wait gate wait-grab break bench serve completions help" -f -a "release" -d 'Give a lock up (its token is remembered from `weblock grab`)'
complete -c weblock -n "__fish_weblock_using_subcommand help; and not __fish_seen_subcommand_from grab release renew status wait gate wait-grab break bench serve completions help" -f -a "renew" -d 'Renew the lease of a lock held with --ttl'
complete -c weblock -n "__fish_weblock_using_subcommand help; and not __fish_seen_subcommand_from grab release renew status wait gate wait-grab break bench serve completions help" -f -a "status" -d 'Show who holds a lock, since when, its lease and its queue; without NAME, every lock and gate'
complete -c weblock -n "__fish_weblock_using_subcommand help; and not __fish_seen_subcommand_from grab release renew status wait gate wait-grab break bench serve completions help" -f -a "wait" -d 'Wait until a lock is free (or a gate SERVICE:ENV is open), without taking it'
complete -c weblock -n "__fish_weblock_using_subcommand help; and not __fish_seen_subcommand_from grab release renew status wait gate wait-grab break bench serve completions help" -f -a "gate" -d 'Gates: services with named gates that are open or closed, taken together with tickets'
complete -c weblock -n "__fish_weblock_using_subcommand help; and not __fish_seen_subcommand_from grab release renew status wait gate wait-grab break bench serve completions help" -f -a "wait-grab" -d 'Wait in line for a lock; then print its token, or run a command while holding it'
complete -c weblock -n "__fish_weblock_using_subcommand help; and not __fish_seen_subcommand_from grab release renew status wait gate wait-grab break bench serve completions help" -f -a "break" -d 'End a stuck lock: every holder and waiter of NAME, with the administrator\'s credentials'
complete -c weblock -n "__fish_weblock_using_subcommand help; and not __fish_seen_subcommand_from grab release renew status wait gate wait-grab break bench serve completions help" -f -a "bench" -d 'Measure a server: throughput, hand-over latency, memory of parked waiters'
complete -c weblock -n "__fish_weblock_using_subcommand help; and not __fish_seen_subcommand_from grab release renew status wait gate wait-grab break bench serve completions help" -f -a "serve" -d 'Run the lock service'
complete -c weblock -n "__fish_weblock_using_subcommand help; and not __fish_seen_subcommand_from grab release renew status wait gate wait-grab break bench serve completions help" -f -a "completions" -d 'Print a shell completion script on stdout'
complete -c weblock -n "__fish_weblock_using_subcommand help; and not __fish_seen_subcommand_from grab release renew status wait gate wait-grab break bench serve completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c weblock -n "__fish_weblock_using_subcommand help; and __fish_seen_subcommand_from gate" -f -a "create" -d 'Create a service with gates (they start open)'
complete -c weblock -n "__fish_weblock_using_subcommand help; and __fish_seen_subcommand_from gate" -f -a "show" -d 'Show a service\'s gates, or every service'
complete -c weblock -n "__fish_weblock_using_subcommand help; and __fish_seen_subcommand_from gate" -f -a "open" -d 'Open a gate'
complete -c weblock -n "__fish_weblock_using_subcommand help; and __fish_seen_subcommand_from gate" -f -a "close" -d 'Close a gate, with a message for those it stops'
complete -c weblock -n "__fish_weblock_using_subcommand help; and __fish_seen_subcommand_from gate" -f -a "delete" -d 'Delete a service and its gates'
complete -c weblock -n "__fish_weblock_using_subcommand help; and __fish_seen_subcommand_from gate" -f -a "enter" -d 'Take gates together with a ticket (all of them or none); run a command while holding them'
complete -c weblock -n "__fish_weblock_using_subcommand help; and __fish_seen_subcommand_from gate" -f -a "leave" -d 'Give back a ticket\'s gates'

# weblock's own additions: lock, gate and service names from the server (`weblock __complete`,
# quick and silent when no server answers), and the command to run after `--`.
function __weblock_after_dashdash
    contains -- -- (commandline -opc)
end
function __weblock_command
    set -l words (commandline -opc)
    set -l at (contains -i -- -- $words)
    __fish_complete_subcommand --fcs-skip=$at
end
complete -c weblock -n __weblock_after_dashdash -f -a '(__weblock_command)'
complete -c weblock -n "not __weblock_after_dashdash; and __fish_seen_subcommand_from grab release renew status wait wait-grab break" -f -a '(weblock __complete locks 2>/dev/null)'
complete -c weblock -n "not __weblock_after_dashdash; and __fish_seen_subcommand_from wait enter" -f -a '(weblock __complete gates 2>/dev/null)'
complete -c weblock -n "not __weblock_after_dashdash; and __fish_seen_subcommand_from open close show delete" -f -a '(weblock __complete services 2>/dev/null)'
