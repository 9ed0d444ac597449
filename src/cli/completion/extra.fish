
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
