
use builtin;
use str;

set edit:completion:arg-completer[weblock] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'weblock'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'weblock'= {
            cand --server 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]'
            cand --ca-file 'CA certificates (PEM) that an https:// server''s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)'
            cand -E 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E'
            cand --conflict-exit-code 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E'
            cand --json 'Print one JSON object instead of the human lines, for success and failure alike: the server''s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand grab 'Take a lock now (or within --wait), print its token, and keep holding it after exit'
            cand release 'Give a lock up (its token is remembered from `weblock grab`)'
            cand renew 'Renew the lease of a lock held with --ttl'
            cand status 'Show who holds a lock, since when, its lease and its queue; without NAME, every lock and gate'
            cand wait 'Wait until a lock is free (or a gate SERVICE:ENV is open), without taking it'
            cand gate 'Gates: services with named gates that are open or closed, taken together with tickets'
            cand wait-grab 'Wait in line for a lock; then print its token, or run a command while holding it'
            cand break 'End a stuck lock: every holder and waiter of NAME, with the administrator''s credentials'
            cand bench 'Measure a server: throughput, hand-over latency, memory of parked waiters'
            cand serve 'Run the lock service'
            cand completions 'Print a shell completion script on stdout'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'weblock;grab'= {
            cand --wait 'Wait in line up to this long if it is held (e.g. 30s, 5m)'
            cand --ttl 'Lease: the lock is freed if not renewed within this (e.g. 30s, 5m)'
            cand --holder 'Who holds it, shown in status (default: user@host and the process id; the user is $USER, $LOGNAME, or the uid''s name)'
            cand --slots 'Up to N holders at once (a counting semaphore). The first request of a free lock sets N; asking for another N while it is in use is refused (exit 1)'
            cand --server 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]'
            cand --ca-file 'CA certificates (PEM) that an https:// server''s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)'
            cand -E 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E'
            cand --conflict-exit-code 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E'
            cand --shared 'Hold it shared, beside other shared holders (readers); never beside an exclusive one'
            cand --json 'Print one JSON object instead of the human lines, for success and failure alike: the server''s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'weblock;release'= {
            cand --token 'The token from grab (default: the one remembered for NAME)'
            cand --server 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]'
            cand --ca-file 'CA certificates (PEM) that an https:// server''s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)'
            cand -E 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E'
            cand --conflict-exit-code 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E'
            cand --json 'Print one JSON object instead of the human lines, for success and failure alike: the server''s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'weblock;renew'= {
            cand --ttl 'New lease length (default: the one in force)'
            cand --token 'The token from grab (default: the one remembered for NAME)'
            cand --server 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]'
            cand --ca-file 'CA certificates (PEM) that an https:// server''s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)'
            cand -E 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E'
            cand --conflict-exit-code 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E'
            cand --json 'Print one JSON object instead of the human lines, for success and failure alike: the server''s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'weblock;status'= {
            cand --server 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]'
            cand --ca-file 'CA certificates (PEM) that an https:// server''s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)'
            cand -E 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E'
            cand --conflict-exit-code 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E'
            cand --json 'Print one JSON object instead of the human lines, for success and failure alike: the server''s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'weblock;wait'= {
            cand --timeout 'Give up after this long (default: wait for ever)'
            cand --server 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]'
            cand --ca-file 'CA certificates (PEM) that an https:// server''s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)'
            cand -E 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E'
            cand --conflict-exit-code 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E'
            cand --lock 'NAME is a lock even though it has a colon'
            cand --json 'Print one JSON object instead of the human lines, for success and failure alike: the server''s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'weblock;gate'= {
            cand --server 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]'
            cand --ca-file 'CA certificates (PEM) that an https:// server''s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)'
            cand -E 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E'
            cand --conflict-exit-code 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E'
            cand --json 'Print one JSON object instead of the human lines, for success and failure alike: the server''s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand create 'Create a service with gates (they start open)'
            cand show 'Show a service''s gates, or every service'
            cand open 'Open a gate'
            cand close 'Close a gate, with a message for those it stops'
            cand delete 'Delete a service and its gates'
            cand enter 'Take gates together with a ticket (all of them or none); run a command while holding them'
            cand leave 'Give back a ticket''s gates'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'weblock;gate;create'= {
            cand --group 'The team or group it belongs to'
            cand --env 'A gate (environment); repeat for each'
            cand --server 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]'
            cand --ca-file 'CA certificates (PEM) that an https:// server''s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)'
            cand -E 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E'
            cand --conflict-exit-code 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E'
            cand --json 'Print one JSON object instead of the human lines, for success and failure alike: the server''s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'weblock;gate;show'= {
            cand --server 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]'
            cand --ca-file 'CA certificates (PEM) that an https:// server''s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)'
            cand -E 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E'
            cand --conflict-exit-code 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E'
            cand --json 'Print one JSON object instead of the human lines, for success and failure alike: the server''s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'weblock;gate;open'= {
            cand --message 'A message shown with the gate ("" clears it)'
            cand --server 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]'
            cand --ca-file 'CA certificates (PEM) that an https:// server''s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)'
            cand -E 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E'
            cand --conflict-exit-code 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E'
            cand --json 'Print one JSON object instead of the human lines, for success and failure alike: the server''s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'weblock;gate;close'= {
            cand --message 'A message shown with the gate ("" clears it)'
            cand --server 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]'
            cand --ca-file 'CA certificates (PEM) that an https:// server''s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)'
            cand -E 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E'
            cand --conflict-exit-code 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E'
            cand --json 'Print one JSON object instead of the human lines, for success and failure alike: the server''s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'weblock;gate;delete'= {
            cand --server 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]'
            cand --ca-file 'CA certificates (PEM) that an https:// server''s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)'
            cand -E 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E'
            cand --conflict-exit-code 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E'
            cand --json 'Print one JSON object instead of the human lines, for success and failure alike: the server''s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'weblock;gate;enter'= {
            cand --timeout 'With --queue, give up after this long (default: wait for ever)'
            cand --server 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]'
            cand --ca-file 'CA certificates (PEM) that an https:// server''s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)'
            cand -E 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E'
            cand --conflict-exit-code 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E'
            cand --queue 'Wait in line while a gate is closed, instead of giving up'
            cand --json 'Print one JSON object instead of the human lines, for success and failure alike: the server''s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'weblock;gate;leave'= {
            cand --server 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]'
            cand --ca-file 'CA certificates (PEM) that an https:// server''s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)'
            cand -E 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E'
            cand --conflict-exit-code 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E'
            cand --json 'Print one JSON object instead of the human lines, for success and failure alike: the server''s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'weblock;gate;help'= {
            cand create 'Create a service with gates (they start open)'
            cand show 'Show a service''s gates, or every service'
            cand open 'Open a gate'
            cand close 'Close a gate, with a message for those it stops'
            cand delete 'Delete a service and its gates'
            cand enter 'Take gates together with a ticket (all of them or none); run a command while holding them'
            cand leave 'Give back a ticket''s gates'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'weblock;gate;help;create'= {
        }
        &'weblock;gate;help;show'= {
        }
        &'weblock;gate;help;open'= {
        }
        &'weblock;gate;help;close'= {
        }
        &'weblock;gate;help;delete'= {
        }
        &'weblock;gate;help;enter'= {
        }
        &'weblock;gate;help;leave'= {
        }
        &'weblock;gate;help;help'= {
        }
        &'weblock;wait-grab'= {
            cand --timeout 'Give up after this long (default: wait for ever)'
            cand --ttl 'Lease: the lock is freed if not renewed within this (e.g. 30s, 5m)'
            cand --holder 'Who holds it, shown in status (default: user@host and the process id; the user is $USER, $LOGNAME, or the uid''s name)'
            cand --slots 'Up to N holders at once (a counting semaphore). The first request of a free lock sets N; asking for another N while it is in use is refused (exit 1)'
            cand --kill-after 'If the lock is lost while CMD runs, CMD gets SIGTERM, then SIGKILL after this'
            cand --server 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]'
            cand --ca-file 'CA certificates (PEM) that an https:// server''s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)'
            cand -E 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E'
            cand --conflict-exit-code 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E'
            cand --shared 'Hold it shared, beside other shared holders (readers); never beside an exclusive one'
            cand --json 'Print one JSON object instead of the human lines, for success and failure alike: the server''s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'weblock;break'= {
            cand --server 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]'
            cand --ca-file 'CA certificates (PEM) that an https:// server''s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)'
            cand -E 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E'
            cand --conflict-exit-code 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E'
            cand --json 'Print one JSON object instead of the human lines, for success and failure alike: the server''s answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else "fail" with "exit_code" and "error" (the line on stderr)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'weblock;bench'= {
            cand --duration 'How long each throughput run lasts'
            cand --clients 'Client counts for the uncontended throughput runs'
            cand --waiters 'Clients taking turns on one lock, for the hand-over latency (0 skips it)'
            cand --handovers 'Hand-overs to time'
            cand --parked 'Waiters to park on one lock: the server''s memory while they wait, then whether they are served in FIFO order and how long it takes (0 skips it)'
            cand --server 'The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]'
            cand --ca-file 'CA certificates (PEM) that an https:// server''s certificate must be signed by, instead of the well-known public CAs (for a server with a private CA or a self-signed certificate)'
            cand -E 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E'
            cand --conflict-exit-code 'Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed out, as flock''s -E'
            cand --no-durable 'Skip the runs against a durable server (--state in a temporary directory)'
            cand --tls 'Also run the throughput and hand-over runs over TLS, against a server with a self-signed certificate (made with the openssl command), beside the plain ones'
            cand --json 'Print the figures as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'weblock;serve'= {
            cand --state 'Keep the state in FILE: every change is journaled and synced before it is answered, and a restart (even after kill -9) finds every holder, fence, gate and ticket as it was'
            cand --store 'Share the state with other weblock servers in etcd: etcd://HOST:PORT[,HOST:PORT...][/PREFIX] (several members: failover between them; PREFIX defaults to weblock). Clients may use any of the servers: one holder per lock, one FIFO queue, fences that never repeat'
            cand --listen 'Address to listen on (port 0 picks a free port)'
            cand --threads 'Worker threads answering requests (waiting and idle clients hold none). Default: 1 in memory (an event loop: nothing a request does waits, so more threads only add hand-offs), 8 with TLS (handshakes are work worth spreading over cores), at least 32 with --state or --store (threads wait on syncs)'
            cand --max-connections 'Open connections at most; the oldest idle one is closed to admit a new one'
            cand --request-timeout 'Time a client has to send a whole request, from its first byte (then 408)'
            cand --admin-credentials 'File of administrators, one user:password a line (HTTP Basic), for administrative requests; WEBLOCK_ADMIN_CREDENTIALS may hold them instead. Without either, none are allowed'
            cand --auth-file 'File of secrets, one a line (blank and # lines ignored): every request must then carry one, as `Authorization: Bearer SECRET` or HTTP Basic with SECRET as the password (clients: WEBLOCK_AUTH or WEBLOCK_AUTH_FILE). A bare SECRET line allows what it always did (everything but administrative requests, which need --admin-credentials); a `NAME:SECRET SCOPE...` line allows its scopes: lock:GLOB (take, renew, release, wait on the locks matching; * and ?), gate:SERVICE (that service''s gates and tickets), read (status, listings, metrics, events), admin (everything, administrative requests included). Read again on SIGHUP'
            cand --public-url 'The address clients reach this server at, behind a proxy: http[s]://HOST[:PORT], no path. Every absolute URL in answers (HAL Location, request-queue URLs, ticket links) uses it'
            cand --trusted-proxy 'A proxy''s address range (CIDR, IPv4 or IPv6; repeatable): only from peers in these ranges are X-Forwarded-Proto and X-Forwarded-Host used for the URLs in answers (from others, ignored)'
            cand --tls-cert 'Speak TLS (https://) on the port, with this certificate (PEM; the server''s first, then its chain). Read again on SIGHUP: new connections get the new one, open ones keep theirs'
            cand --tls-key 'The certificate''s private key (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC). Read again on SIGHUP'
            cand --tls-client-ca 'Require a client certificate signed by this CA (PEM); its subject''s CN is the client''s identity: an --auth-file NAME:SECRET line of that NAME gives its scopes without the secret (without --auth-file, any such client may do everything)'
            cand --ticket-ttl 'How long a queued gate ticket lives after its last use (the gatekeeper document says 2m)'
            cand --idle-timeout 'An idle keep-alive connection is closed after this'
            cand --log-format 'One line on stderr per state change (grant, release, expiry, gate opened…): for people (human), for log collectors (json: one object a line), or none (off)'
            cand --metrics-locks 'Locks named in /metrics'' per-lock series (the busiest; the rest are summed as lock="other")'
            cand --server 'server'
            cand --ca-file 'ca-file'
            cand -E 'E'
            cand --conflict-exit-code 'conflict-exit-code'
            cand --json 'json'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'weblock;completions'= {
            cand --server 'server'
            cand --ca-file 'ca-file'
            cand -E 'E'
            cand --conflict-exit-code 'conflict-exit-code'
            cand --json 'json'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'weblock;help'= {
            cand grab 'Take a lock now (or within --wait), print its token, and keep holding it after exit'
            cand release 'Give a lock up (its token is remembered from `weblock grab`)'
            cand renew 'Renew the lease of a lock held with --ttl'
            cand status 'Show who holds a lock, since when, its lease and its queue; without NAME, every lock and gate'
            cand wait 'Wait until a lock is free (or a gate SERVICE:ENV is open), without taking it'
            cand gate 'Gates: services with named gates that are open or closed, taken together with tickets'
            cand wait-grab 'Wait in line for a lock; then print its token, or run a command while holding it'
            cand break 'End a stuck lock: every holder and waiter of NAME, with the administrator''s credentials'
            cand bench 'Measure a server: throughput, hand-over latency, memory of parked waiters'
            cand serve 'Run the lock service'
            cand completions 'Print a shell completion script on stdout'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'weblock;help;grab'= {
        }
        &'weblock;help;release'= {
        }
        &'weblock;help;renew'= {
        }
        &'weblock;help;status'= {
        }
        &'weblock;help;wait'= {
        }
        &'weblock;help;gate'= {
            cand create 'Create a service with gates (they start open)'
            cand show 'Show a service''s gates, or every service'
            cand open 'Open a gate'
            cand close 'Close a gate, with a message for those it stops'
            cand delete 'Delete a service and its gates'
            cand enter 'Take gates together with a ticket (all of them or none); run a command while holding them'
            cand leave 'Give back a ticket''s gates'
        }
        &'weblock;help;gate;create'= {
        }
        &'weblock;help;gate;show'= {
        }
        &'weblock;help;gate;open'= {
        }
        &'weblock;help;gate;close'= {
        }
        &'weblock;help;gate;delete'= {
        }
        &'weblock;help;gate;enter'= {
        }
        &'weblock;help;gate;leave'= {
        }
        &'weblock;help;wait-grab'= {
        }
        &'weblock;help;break'= {
        }
        &'weblock;help;bench'= {
        }
        &'weblock;help;serve'= {
        }
        &'weblock;help;completions'= {
        }
        &'weblock;help;help'= {
        }
    ]
    $completions[$command]
}
