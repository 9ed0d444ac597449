
# weblock's own additions: lock, gate and service names from the server (`weblock __complete`,
# quick and silent when no server answers), and the command to run after `--`.
_weblock_names() {
    local IFS=$'\n'
    COMPREPLY+=( $(compgen -W "$(weblock __complete "$1" 2>/dev/null)" -- "$2") )
}

_weblock_complete() {
    local cur=${COMP_WORDS[COMP_CWORD]} word i sub="" gate_cmd="" at=0 skip=0
    COMPREPLY=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        if (( skip )); then skip=0; continue; fi
        case $word in
            --)
                if (( COMP_CWORD == i + 1 )); then
                    COMPREPLY=( $(compgen -c -- "$cur") )
                else
                    COMPREPLY=( $(compgen -f -- "$cur") )
                fi
                return 0 ;;
            --server|-E|--conflict-exit-code|--ttl|--wait|--timeout|--holder|--slots|--kill-after|--token|--message|--group|--env)
                skip=1 ;;
            -*) ;;
            *)
                if [[ -z $sub ]]; then sub=$word; at=$i
                elif [[ $sub == gate && -z $gate_cmd ]]; then gate_cmd=$word; at=$i
                fi ;;
        esac
    done
    if [[ $cur != -* ]] && (( ! skip && at > 0 && COMP_CWORD == at + 1 )); then
        case $sub:$gate_cmd in
            grab:|release:|renew:|status:|wait-grab:|break:)
                _weblock_names locks "$cur"; return 0 ;;
            wait:)
                _weblock_names locks "$cur"; _weblock_names gates "$cur"; return 0 ;;
            gate:open|gate:close|gate:show|gate:delete)
                _weblock_names services "$cur"; return 0 ;;
            gate:enter)
                _weblock_names gates "$cur"; return 0 ;;
        esac
    fi
    _weblock "$@"
}

if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -F _weblock_complete -o nosort -o bashdefault -o default weblock
else
    complete -F _weblock_complete -o bashdefault -o default weblock
fi
