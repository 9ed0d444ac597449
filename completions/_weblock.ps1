
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'weblock' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'weblock'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'weblock' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'CA certificates (PEM) that an https:// server''s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)')
            [CompletionResult]::new('-E', '-E ', [CompletionResultType]::ParameterName, 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E')
            [CompletionResult]::new('--conflict-exit-code', '--conflict-exit-code', [CompletionResultType]::ParameterName, 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object instead of the human lines, for success and failure alike: the server''s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('grab', 'grab', [CompletionResultType]::ParameterValue, 'Take a lock now (or within --wait), print its token, and keep holding it after exit')
            [CompletionResult]::new('release', 'release', [CompletionResultType]::ParameterValue, 'Give a lock up (its token is remembered from `weblock grab`)')
            [CompletionResult]::new('renew', 'renew', [CompletionResultType]::ParameterValue, 'Renew the lease of a lock held with --ttl')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show who holds a lock, since when, its lease and its queue; without NAME, every lock and gate')
            [CompletionResult]::new('wait', 'wait', [CompletionResultType]::ParameterValue, 'Wait until a lock is free (or a gate SERVICE:ENV is open), without taking it')
            [CompletionResult]::new('gate', 'gate', [CompletionResultType]::ParameterValue, 'Gates: services with named gates that are open or closed, taken together with tickets')
            [CompletionResult]::new('wait-grab', 'wait-grab', [CompletionResultType]::ParameterValue, 'Wait in line for a lock; then print its token, or run a command while holding it')
            [CompletionResult]::new('break', 'break', [CompletionResultType]::ParameterValue, 'End a stuck lock: every holder and waiter of NAME, with the administrator''s credentials')
            [CompletionResult]::new('bench', 'bench', [CompletionResultType]::ParameterValue, 'Measure a server: throughput, hand-over latency, memory of parked waiters')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Run the lock service')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script on stdout')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'weblock;grab' {
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Wait in line up to this long if it is held (e.g. 30s, 5m)')
            [CompletionResult]::new('--ttl', '--ttl', [CompletionResultType]::ParameterName, 'Lease: the lock is freed if not renewed within this (e.g. 30s, 5m)')
            [CompletionResult]::new('--holder', '--holder', [CompletionResultType]::ParameterName, 'Who holds it, shown in status (default: user@host and the process id; the user is $USER, $LOGNAME, or the uid''s name)')
            [CompletionResult]::new('--slots', '--slots', [CompletionResultType]::ParameterName, 'Up to N holders at once (a counting semaphore). The first request of a free lock sets N; asking for another N while it is in use is refused (exit 1)')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'CA certificates (PEM) that an https:// server''s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)')
            [CompletionResult]::new('-E', '-E ', [CompletionResultType]::ParameterName, 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E')
            [CompletionResult]::new('--conflict-exit-code', '--conflict-exit-code', [CompletionResultType]::ParameterName, 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E')
            [CompletionResult]::new('--shared', '--shared', [CompletionResultType]::ParameterName, 'Hold it shared, beside other shared holders (readers); never beside an exclusive one')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object instead of the human lines, for success and failure alike: the server''s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'weblock;release' {
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'The token from grab (default: the one remembered for NAME)')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'CA certificates (PEM) that an https:// server''s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)')
            [CompletionResult]::new('-E', '-E ', [CompletionResultType]::ParameterName, 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E')
            [CompletionResult]::new('--conflict-exit-code', '--conflict-exit-code', [CompletionResultType]::ParameterName, 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object instead of the human lines, for success and failure alike: the server''s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'weblock;renew' {
            [CompletionResult]::new('--ttl', '--ttl', [CompletionResultType]::ParameterName, 'New lease length (default: the one in force)')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'The token from grab (default: the one remembered for NAME)')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'CA certificates (PEM) that an https:// server''s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)')
            [CompletionResult]::new('-E', '-E ', [CompletionResultType]::ParameterName, 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E')
            [CompletionResult]::new('--conflict-exit-code', '--conflict-exit-code', [CompletionResultType]::ParameterName, 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object instead of the human lines, for success and failure alike: the server''s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'weblock;status' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'CA certificates (PEM) that an https:// server''s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)')
            [CompletionResult]::new('-E', '-E ', [CompletionResultType]::ParameterName, 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E')
            [CompletionResult]::new('--conflict-exit-code', '--conflict-exit-code', [CompletionResultType]::ParameterName, 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object instead of the human lines, for success and failure alike: the server''s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'weblock;wait' {
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Give up after this long (default: wait for ever)')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'CA certificates (PEM) that an https:// server''s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)')
            [CompletionResult]::new('-E', '-E ', [CompletionResultType]::ParameterName, 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E')
            [CompletionResult]::new('--conflict-exit-code', '--conflict-exit-code', [CompletionResultType]::ParameterName, 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E')
            [CompletionResult]::new('--lock', '--lock', [CompletionResultType]::ParameterName, 'NAME is a lock even though it has a colon')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object instead of the human lines, for success and failure alike: the server''s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'weblock;gate' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'CA certificates (PEM) that an https:// server''s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)')
            [CompletionResult]::new('-E', '-E ', [CompletionResultType]::ParameterName, 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E')
            [CompletionResult]::new('--conflict-exit-code', '--conflict-exit-code', [CompletionResultType]::ParameterName, 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object instead of the human lines, for success and failure alike: the server''s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a service with gates (they start open)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a service''s gates, or every service')
            [CompletionResult]::new('open', 'open', [CompletionResultType]::ParameterValue, 'Open a gate')
            [CompletionResult]::new('close', 'close', [CompletionResultType]::ParameterValue, 'Close a gate, with a message for those it stops')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a service and its gates')
            [CompletionResult]::new('enter', 'enter', [CompletionResultType]::ParameterValue, 'Take gates together with a ticket (all of them or none); run a command while holding them')
            [CompletionResult]::new('leave', 'leave', [CompletionResultType]::ParameterValue, 'Give back a ticket''s gates')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'weblock;gate;create' {
            [CompletionResult]::new('--group', '--group', [CompletionResultType]::ParameterName, 'The team or group it belongs to')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'A gate (environment); repeat for each')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'CA certificates (PEM) that an https:// server''s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)')
            [CompletionResult]::new('-E', '-E ', [CompletionResultType]::ParameterName, 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E')
            [CompletionResult]::new('--conflict-exit-code', '--conflict-exit-code', [CompletionResultType]::ParameterName, 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object instead of the human lines, for success and failure alike: the server''s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'weblock;gate;show' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'CA certificates (PEM) that an https:// server''s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)')
            [CompletionResult]::new('-E', '-E ', [CompletionResultType]::ParameterName, 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E')
            [CompletionResult]::new('--conflict-exit-code', '--conflict-exit-code', [CompletionResultType]::ParameterName, 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object instead of the human lines, for success and failure alike: the server''s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'weblock;gate;open' {
            [CompletionResult]::new('--message', '--message', [CompletionResultType]::ParameterName, 'A message shown with the gate ("" clears it)')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'CA certificates (PEM) that an https:// server''s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)')
            [CompletionResult]::new('-E', '-E ', [CompletionResultType]::ParameterName, 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E')
            [CompletionResult]::new('--conflict-exit-code', '--conflict-exit-code', [CompletionResultType]::ParameterName, 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object instead of the human lines, for success and failure alike: the server''s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'weblock;gate;close' {
            [CompletionResult]::new('--message', '--message', [CompletionResultType]::ParameterName, 'A message shown with the gate ("" clears it)')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'CA certificates (PEM) that an https:// server''s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)')
            [CompletionResult]::new('-E', '-E ', [CompletionResultType]::ParameterName, 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E')
            [CompletionResult]::new('--conflict-exit-code', '--conflict-exit-code', [CompletionResultType]::ParameterName, 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object instead of the human lines, for success and failure alike: the server''s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'weblock;gate;delete' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'CA certificates (PEM) that an https:// server''s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)')
            [CompletionResult]::new('-E', '-E ', [CompletionResultType]::ParameterName, 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E')
            [CompletionResult]::new('--conflict-exit-code', '--conflict-exit-code', [CompletionResultType]::ParameterName, 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object instead of the human lines, for success and failure alike: the server''s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'weblock;gate;enter' {
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'With --queue, give up after this long (default: wait for ever)')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'CA certificates (PEM) that an https:// server''s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)')
            [CompletionResult]::new('-E', '-E ', [CompletionResultType]::ParameterName, 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E')
            [CompletionResult]::new('--conflict-exit-code', '--conflict-exit-code', [CompletionResultType]::ParameterName, 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E')
            [CompletionResult]::new('--queue', '--queue', [CompletionResultType]::ParameterName, 'Wait in line while a gate is closed, instead of giving up')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object instead of the human lines, for success and failure alike: the server''s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'weblock;gate;leave' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'CA certificates (PEM) that an https:// server''s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)')
            [CompletionResult]::new('-E', '-E ', [CompletionResultType]::ParameterName, 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E')
            [CompletionResult]::new('--conflict-exit-code', '--conflict-exit-code', [CompletionResultType]::ParameterName, 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object instead of the human lines, for success and failure alike: the server''s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'weblock;gate;help' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a service with gates (they start open)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a service''s gates, or every service')
            [CompletionResult]::new('open', 'open', [CompletionResultType]::ParameterValue, 'Open a gate')
            [CompletionResult]::new('close', 'close', [CompletionResultType]::ParameterValue, 'Close a gate, with a message for those it stops')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a service and its gates')
            [CompletionResult]::new('enter', 'enter', [CompletionResultType]::ParameterValue, 'Take gates together with a ticket (all of them or none); run a command while holding them')
            [CompletionResult]::new('leave', 'leave', [CompletionResultType]::ParameterValue, 'Give back a ticket''s gates')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'weblock;gate;help;create' {
            break
        }
        'weblock;gate;help;show' {
            break
        }
        'weblock;gate;help;open' {
            break
        }
        'weblock;gate;help;close' {
            break
        }
        'weblock;gate;help;delete' {
            break
        }
        'weblock;gate;help;enter' {
            break
        }
        'weblock;gate;help;leave' {
            break
        }
        'weblock;gate;help;help' {
            break
        }
        'weblock;wait-grab' {
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Give up after this long (default: wait for ever)')
            [CompletionResult]::new('--ttl', '--ttl', [CompletionResultType]::ParameterName, 'Lease: the lock is freed if not renewed within this (e.g. 30s, 5m)')
            [CompletionResult]::new('--holder', '--holder', [CompletionResultType]::ParameterName, 'Who holds it, shown in status (default: user@host and the process id; the user is $USER, $LOGNAME, or the uid''s name)')
            [CompletionResult]::new('--slots', '--slots', [CompletionResultType]::ParameterName, 'Up to N holders at once (a counting semaphore). The first request of a free lock sets N; asking for another N while it is in use is refused (exit 1)')
            [CompletionResult]::new('--kill-after', '--kill-after', [CompletionResultType]::ParameterName, 'If the lock is lost while CMD runs, CMD gets SIGTERM, then SIGKILL after this')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'CA certificates (PEM) that an https:// server''s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)')
            [CompletionResult]::new('-E', '-E ', [CompletionResultType]::ParameterName, 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E')
            [CompletionResult]::new('--conflict-exit-code', '--conflict-exit-code', [CompletionResultType]::ParameterName, 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E')
            [CompletionResult]::new('--shared', '--shared', [CompletionResultType]::ParameterName, 'Hold it shared, beside other shared holders (readers); never beside an exclusive one')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object instead of the human lines, for success and failure alike: the server''s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'weblock;break' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'CA certificates (PEM) that an https:// server''s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)')
            [CompletionResult]::new('-E', '-E ', [CompletionResultType]::ParameterName, 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E')
            [CompletionResult]::new('--conflict-exit-code', '--conflict-exit-code', [CompletionResultType]::ParameterName, 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object instead of the human lines, for success and failure alike: the server''s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'weblock;bench' {
            [CompletionResult]::new('--duration', '--duration', [CompletionResultType]::ParameterName, 'How long each throughput run lasts')
            [CompletionResult]::new('--clients', '--clients', [CompletionResultType]::ParameterName, 'Client counts for the uncontended throughput runs')
            [CompletionResult]::new('--waiters', '--waiters', [CompletionResultType]::ParameterName, 'Clients taking turns on one lock, for the hand-over latency (0 skips it)')
            [CompletionResult]::new('--handovers', '--handovers', [CompletionResultType]::ParameterName, 'Hand-overs to time')
            [CompletionResult]::new('--parked', '--parked', [CompletionResultType]::ParameterName, 'Waiters to park on one lock: the server''s memory while they wait, then whether they are served in FIFO order and how long it takes (0 skips it)')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'CA certificates (PEM) that an https:// server''s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)')
            [CompletionResult]::new('-E', '-E ', [CompletionResultType]::ParameterName, 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E')
            [CompletionResult]::new('--conflict-exit-code', '--conflict-exit-code', [CompletionResultType]::ParameterName, 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E')
            [CompletionResult]::new('--no-durable', '--no-durable', [CompletionResultType]::ParameterName, 'Skip the runs against a durable server (--state in a temporary directory)')
            [CompletionResult]::new('--tls', '--tls', [CompletionResultType]::ParameterName, 'Also run the throughput and hand-over runs over TLS, against a server with a self-signed certificate (made with the openssl command), beside the plain ones')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the figures as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'weblock;serve' {
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'Keep the state in FILE: every change is journaled and synced before it is answered, and a restart (even after kill -9) finds every holder, fence, gate and ticket as it was')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Share the state with other weblock servers in etcd: etcd://HOST:PORT[,HOST:PORT...][/PREFIX] (several members: failover between them; PREFIX defaults to weblock). Clients may use any of the servers: one holder per lock, one FIFO queue, fences that never repeat')
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address to listen on (port 0 picks a free port)')
            [CompletionResult]::new('--threads', '--threads', [CompletionResultType]::ParameterName, 'Worker threads answering requests (waiting and idle clients hold none). Default: 1 in memory (an event loop: nothing a request does waits, so more threads only add hand-offs), 8 with TLS (handshakes are work worth spreading over cores), at least 32 with --state or --store (threads wait on syncs)')
            [CompletionResult]::new('--max-connections', '--max-connections', [CompletionResultType]::ParameterName, 'Open connections at most; the oldest idle one is closed to admit a new one')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'Time a client has to send a whole request, from its first byte (then 408)')
            [CompletionResult]::new('--admin-credentials', '--admin-credentials', [CompletionResultType]::ParameterName, 'File of administrators, one user:password a line (HTTP Basic), for administrative requests; WEBLOCK_ADMIN_CREDENTIALS may hold them instead. Without either, none are allowed')
            [CompletionResult]::new('--auth-file', '--auth-file', [CompletionResultType]::ParameterName, 'File of secrets, one a line (blank and # lines ignored): every request must then carry one, as `Authorization: Bearer SECRET` or HTTP Basic with SECRET as the password (clients: WEBLOCK_AUTH or WEBLOCK_AUTH_FILE). A bare SECRET line allows what it always did (everything but administrative requests, which need --admin-credentials); a `NAME:SECRET SCOPE...` line allows its scopes: lock:GLOB (take, renew, release, wait on the locks matching; * and ?), gate:SERVICE (that service''s gates and tickets), read (status, listings, metrics, events), admin (everything, administrative requests included). Read again on SIGHUP')
            [CompletionResult]::new('--public-url', '--public-url', [CompletionResultType]::ParameterName, 'The address clients reach this server at, behind a proxy: http[s]://HOST[:PORT], no path. Every absolute URL in answers (HAL Location, request-queue URLs, ticket links) uses it')
            [CompletionResult]::new('--trusted-proxy', '--trusted-proxy', [CompletionResultType]::ParameterName, 'A proxy''s address range (CIDR, IPv4 or IPv6; repeatable): only from peers in these ranges are X-Forwarded-Proto and X-Forwarded-Host used for the URLs in answers (from others, ignored)')
            [CompletionResult]::new('--tls-cert', '--tls-cert', [CompletionResultType]::ParameterName, 'Speak TLS (https://) on the port, with this certificate (PEM; the server''s first, then its chain). Read again on SIGHUP: new connections get the new one, open ones keep theirs')
            [CompletionResult]::new('--tls-key', '--tls-key', [CompletionResultType]::ParameterName, 'The certificate''s private key (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC). Read again on SIGHUP')
            [CompletionResult]::new('--tls-client-ca', '--tls-client-ca', [CompletionResultType]::ParameterName, 'Require a client certificate signed by this CA (PEM); its subject''s CN is the client''s identity: an --auth-file NAME:SECRET line of that NAME gives its scopes without the secret (without --auth-file, any such client may do everything)')
            [CompletionResult]::new('--ticket-ttl', '--ticket-ttl', [CompletionResultType]::ParameterName, 'How long a queued gate ticket lives after its last use (the gatekeeper document says 2m)')
            [CompletionResult]::new('--idle-timeout', '--idle-timeout', [CompletionResultType]::ParameterName, 'An idle keep-alive connection is closed after this')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'One line on stderr per state change (grant, release, expiry, gate opened…): for people (human), for log collectors (json: one object a line), or none (off)')
            [CompletionResult]::new('--metrics-locks', '--metrics-locks', [CompletionResultType]::ParameterName, 'Locks named in /metrics'' per-lock series (the busiest; the rest are summed as lock="other")')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'server')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'ca-file')
            [CompletionResult]::new('-E', '-E ', [CompletionResultType]::ParameterName, 'E')
            [CompletionResult]::new('--conflict-exit-code', '--conflict-exit-code', [CompletionResultType]::ParameterName, 'conflict-exit-code')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'json')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'weblock;completions' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'server')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'ca-file')
            [CompletionResult]::new('-E', '-E ', [CompletionResultType]::ParameterName, 'E')
            [CompletionResult]::new('--conflict-exit-code', '--conflict-exit-code', [CompletionResultType]::ParameterName, 'conflict-exit-code')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'json')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'weblock;help' {
            [CompletionResult]::new('grab', 'grab', [CompletionResultType]::ParameterValue, 'Take a lock now (or within --wait), print its token, and keep holding it after exit')
            [CompletionResult]::new('release', 'release', [CompletionResultType]::ParameterValue, 'Give a lock up (its token is remembered from `weblock grab`)')
            [CompletionResult]::new('renew', 'renew', [CompletionResultType]::ParameterValue, 'Renew the lease of a lock held with --ttl')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show who holds a lock, since when, its lease and its queue; without NAME, every lock and gate')
            [CompletionResult]::new('wait', 'wait', [CompletionResultType]::ParameterValue, 'Wait until a lock is free (or a gate SERVICE:ENV is open), without taking it')
            [CompletionResult]::new('gate', 'gate', [CompletionResultType]::ParameterValue, 'Gates: services with named gates that are open or closed, taken together with tickets')
            [CompletionResult]::new('wait-grab', 'wait-grab', [CompletionResultType]::ParameterValue, 'Wait in line for a lock; then print its token, or run a command while holding it')
            [CompletionResult]::new('break', 'break', [CompletionResultType]::ParameterValue, 'End a stuck lock: every holder and waiter of NAME, with the administrator''s credentials')
            [CompletionResult]::new('bench', 'bench', [CompletionResultType]::ParameterValue, 'Measure a server: throughput, hand-over latency, memory of parked waiters')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Run the lock service')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script on stdout')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'weblock;help;grab' {
            break
        }
        'weblock;help;release' {
            break
        }
        'weblock;help;renew' {
            break
        }
        'weblock;help;status' {
            break
        }
        'weblock;help;wait' {
            break
        }
        'weblock;help;gate' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a service with gates (they start open)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a service''s gates, or every service')
            [CompletionResult]::new('open', 'open', [CompletionResultType]::ParameterValue, 'Open a gate')
            [CompletionResult]::new('close', 'close', [CompletionResultType]::ParameterValue, 'Close a gate, with a message for those it stops')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a service and its gates')
            [CompletionResult]::new('enter', 'enter', [CompletionResultType]::ParameterValue, 'Take gates together with a ticket (all of them or none); run a command while holding them')
            [CompletionResult]::new('leave', 'leave', [CompletionResultType]::ParameterValue, 'Give back a ticket''s gates')
            break
        }
        'weblock;help;gate;create' {
            break
        }
        'weblock;help;gate;show' {
            break
        }
        'weblock;help;gate;open' {
            break
        }
        'weblock;help;gate;close' {
            break
        }
        'weblock;help;gate;delete' {
            break
        }
        'weblock;help;gate;enter' {
            break
        }
        'weblock;help;gate;leave' {
            break
        }
        'weblock;help;wait-grab' {
            break
        }
        'weblock;help;break' {
            break
        }
        'weblock;help;bench' {
            break
        }
        'weblock;help;serve' {
            break
        }
        'weblock;help;completions' {
            break
        }
        'weblock;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
