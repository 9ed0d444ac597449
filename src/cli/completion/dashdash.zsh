    # weblock's own addition: after `--`, the command to run and then its own arguments.
    local weblock_dashdash=${words[(I)--]}
    if (( weblock_dashdash > 0 && weblock_dashdash < CURRENT )); then
        words=("${(@)words[weblock_dashdash+1,-1]}")
        (( CURRENT -= weblock_dashdash ))
        _normal
        return
    fi
