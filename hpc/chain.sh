# chain.sh - what hpc/slurm.sh and hpc/pbs.sh share: check the sweep before running it,
# run one link of the chain (stop signals passed on as SIGUSR1, rank 0's exit status read
# from its status file, the points the link evaluated counted), and decide whether to
# resubmit. Sourced by the job scripts (bash), not run; the submission itself is theirs.
# The caller sets EXP (the stexplore program) and JOBID (the batch system's job id).
# Links pass STEXPLORE_LINK (this link's number in the chain) and STEXPLORE_IDLE (how many
# links in a row evaluated no point) on to the next one in its environment.

link=${STEXPLORE_LINK:-1}
idle=${STEXPLORE_IDLE:-0}

# say TEXT: a log line with the UTC time to the millisecond, so that the job logs of a
# chain show when each link started, was signalled and resubmitted.
say() {
    printf 'stexplore-job: %s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "$*"
}

# check_sweep ARGS...: stexplore --check on the arguments the sweep will run with (one
# process, nothing evaluated or written); 2 when the sweep is refused.
check_sweep() {
    if ! "$EXP" --check --first 0 "$@" >/dev/null; then
        say "the sweep fails stexplore --check (message above): nothing run, nothing resubmitted"
        return 2
    fi
    return 0
}

# catch_stops SIGNALS: from now on SIGNALS to this shell stop the sweep: passed on to the
# launcher as SIGUSR1 (which Open MPI's mpirun and srun forward to every rank, and which
# only rank 0 acts on; mpirun would crash on SIGHUP and report 1 on the others) once the
# ranks run (run_link), or, before the launcher runs, keep it from running (the link then
# ends as stopped, status 130).
pid=
stop=
stops=0
catch_stops() {
    local s
    for s in $1; do
        # shellcheck disable=SC2064
        trap "stop=$s; stops=\$((stops + 1)); say 'SIG$s received: stopping the sweep'" "$s"
    done
}

# ended FILE: true when rank 0 has written its exit status in FILE as it ended (then in
# rank0_status); false while it runs ('running') or before it has started. It prints
# nothing and is called without redirections: a stop's trap that runs meanwhile logs.
rank0_status=
ended() {
    local s=
    read -r s 2>/dev/null <"$1"
    case $s in
    '' | *[!0-9]*) return 1 ;;
    esac
    rank0_status=$s
}

# run_link LAUNCHER... -- ARGS...: run the sweep with LAUNCHER (mpirun, srun, or nothing for
# one process) and --resume. Sets status (rank 0's, or the launcher's when rank 0 wrote
# none: it crashed) and evaluated (points evaluated by this link).
run_link() {
    local sf out n passed launcher=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        launcher+=("$1")
        shift
    done
    shift
    # On a stop, mpirun gives the ranks 1 s (Open MPI's odls_base_sigkill_timeout) before
    # it kills them; rank 0 may need longer to let the workers finish their batches
    # (--stop-grace) and save the file, and its status must reach the status file.
    export OMPI_MCA_odls_base_sigkill_timeout=${OMPI_MCA_odls_base_sigkill_timeout:-5}
    # And when rank 0 exits 130 after a clean stop, mpirun would end the job at once (the
    # workers, still in MPI_Finalize, get SIGTERM, which they ignore, then SIGKILL after
    # that timeout: 10 s per link): let them end by themselves. Crashes and MPI_Abort still
    # end the job; a worker still inside a long point is the watchdog's, below.
    export OMPI_MCA_orte_abort_on_non_zero_status=${OMPI_MCA_orte_abort_on_non_zero_status:-0}
    say "link $link of the chain: job $JOBID on $(hostname -s), ${launcher[*]:-one process}"
    if [ -n "$stop" ]; then
        status=130 evaluated=0
        say "stopped by SIG$stop before the sweep started"
        return
    fi
    sf=${SUBMIT_DIR:-$PWD}/stexplore-$JOBID.status
    out=$(mktemp "${TMPDIR:-/tmp}/stexplore-out.XXXXXX")
    rm -f "$sf"
    "${launcher[@]}" "$EXP" --progress log --resume --status-file "$sf" "$@" >"$out" &
    pid=$!
    # A stop is passed on once rank 0 has written 'running' to the status file, when every
    # rank has blocked the stop signals: sent earlier, mpirun forwards it to no rank (before
    # it has started them) or to a rank still loading, which it ends (and rank 0 then waits
    # in MPI_Init for ever). A second stop is passed on at once.
    # Rank 0 writes its status as it ends, and then nothing is left to save: a launcher
    # still waiting 5 s later for a worker inside a long point is ended.
    n=0 passed=0
    while kill -0 $pid 2>/dev/null; do
        if [ -n "$stop" ] && [ $passed -lt $stops ] && { [ -s "$sf" ] || [ $stops -ge 2 ]; }; then
            passed=$stops
            kill -USR1 $pid 2>/dev/null
        fi
        if ended "$sf" && [ $((n += 1)) -eq 50 ]; then
            say "rank 0 has ended; the launcher still waits for a worker: ending it"
            kill -KILL $pid 2>/dev/null
        fi
        sleep 0.1
    done
    wait $pid
    status=$?
    pid=
    cat "$out"
    evaluated=$(sed -n 's/.*, \([0-9][0-9]*\) this run in .*/\1/p' "$out" | tail -n 1)
    evaluated=${evaluated:-0}
    rm -f "$out"
    say "launcher exit status $status"
    if ended "$sf"; then
        status=$rank0_status
    fi
    rm -f "$sf"
    say "stexplore exit status $status, $evaluated points evaluated by this link"
}

# should_resubmit: 0 when the sweep stopped (status 130) and the chain is making progress.
# A link that evaluated nothing (a time limit too short for one batch, a point slower than
# the whole job, a stop that always comes at once) counts as idle; after two idle links
# in a row the chain ends, saying why, instead of resubmitting forever.
should_resubmit() {
    [ "$status" -eq 130 ] || return 1
    if [ "$evaluated" -eq 0 ]; then
        idle=$((idle + 1))
    else
        idle=0
    fi
    if [ "$idle" -ge 2 ]; then
        say "no point evaluated in the last $idle links of the chain: not resubmitting." \
            "Each link is stopped before it finishes a batch: give the job more time" \
            "(or a shorter signal lead); then submit it again, and it resumes"
        return 1
    fi
    return 0
}
