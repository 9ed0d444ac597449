# weblock's own additions: lock, gate and service names from the server (`weblock __complete`,
# quick and silent when no server answers).
(( $+functions[_weblock_locks] )) ||
_weblock_locks() {
    local -a names
    names=(${(f)"$(weblock __complete locks 2>/dev/null)"})
    compadd -a names
}
(( $+functions[_weblock_gates] )) ||
_weblock_gates() {
    local -a names
    names=(${(f)"$(weblock __complete gates 2>/dev/null)"})
    compadd -a names
}
(( $+functions[_weblock_locks_and_gates] )) ||
_weblock_locks_and_gates() {
    _weblock_locks
    _weblock_gates
}
(( $+functions[_weblock_services] )) ||
_weblock_services() {
    local -a names
    names=(${(f)"$(weblock __complete services 2>/dev/null)"})
    compadd -a names
}

