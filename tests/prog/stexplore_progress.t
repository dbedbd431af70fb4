#!/usr/bin/python3
# stexplore_progress.t - a sweep in one process whose first points fail at once and whose
# later points are dear still journals at bounded intervals (the journal's size, sampled
# while it runs), stops soon after SIGINT, and resumes to the complete file; progress
# counts the points to evaluate, not the candidates `where` removed. The bounds are loose
# (several times the 0.5 s batch target) so that a loaded 2-core machine passes; before
# the fix, one batch held every dear point and the journal did not grow for ~10 s.
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import BIN, end, normal_build_only, ok, skip  # noqa: E402

normal_build_only("timing of batches and stops, which the sanitizer's slowdown distorts")

EXP = os.environ.get("ST_EXPLORE", os.path.join(BIN, "stexplore"))

print("1..11")
tmp = tempfile.mkdtemp()
os.chdir(tmp)

# The dear points: AlexNet at a fifth of its rows sampled, about 0.1 s each on the 2-core VM
# (several times that in the sanitizer build). One is timed here, so that the dear part of
# the sweep lasts about 12 s in either build (one batch of it, before the fix), and the
# bounds allow four of them, and 5 s at least, for a loaded machine.
t0 = time.monotonic()
subprocess.run([os.path.join(BIN, "stsim"), "alexnet", "fidelity=sampled",
                "sample_fraction=0.2", "p=0.9", "--no-layers"], capture_output=True)
point_s = time.monotonic() - t0
n_all = 2 * max(16, min(1000, int(12 / max(point_s, 1e-3))))
GAP_S = max(5.0, 1 + 4 * point_s)
print("# one dear point takes %.2f s: %d points, gaps of at most %.1f s" % (point_s, n_all, GAP_S))
# p below 0.5 gives psum_bits 8 < data_bits 16: the point fails at its check, at once.
script = """return st.sweep {
  name = "jump", network = "alexnet",
  params = { p = st.linspace(0, 0.98, %d) },
  derived = { psum_bits = function(pt) if pt.p < 0.5 then return 8 end return 32 end },
  fixed = { fidelity = "sampled", sample_fraction = 0.2 },
}
""" % n_all
# linspace(0, 0.98, n) puts n * 0.5 / 0.98 of its values below 0.5.
n_fail = sum(1 for i in range(n_all) if 0.98 * i / (n_all - 1) < 0.5)
with open("jump.lua", "w") as f:
    f.write(script)


def watch(args, journal, stop_after=None):
    """Run stexplore, sampling the journal's size every 20 ms: the times it grew, the exit
    status, the seconds from the stop signal to the exit, stderr."""
    t0 = time.monotonic()
    p = subprocess.Popen([EXP] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    last, grew, stopped_at = -1, [], None
    while p.poll() is None:
        now = time.monotonic() - t0
        try:
            size = os.path.getsize(journal)
        except OSError:
            size = -1
        if size != last and size > 0:
            grew.append(now)
            last = size
        if stop_after is not None and stopped_at is None and now >= stop_after:
            p.send_signal(signal.SIGINT)
            stopped_at = now
        time.sleep(0.02)
    t_end = time.monotonic() - t0
    out, err = p.communicate()
    return p.returncode, grew, t_end, (t_end - stopped_at if stopped_at is not None else None), \
        out.decode(), err.decode()


rc, grew, t_end, _, out, err = watch(["--progress", "log", "jump.lua"], "results/jump.h5.journal")
ok(rc == 0 and "%d points evaluated (%d ok, %d failed" % (n_all, n_all - n_fail, n_fail) in out,
   "progress-1.1 the sweep of %d instant failures then %d dear points runs" %
   (n_fail, n_all - n_fail), out + err)
gaps = [b - a for a, b in zip(grew, grew[1:])]
worst = max(gaps) if gaps else t_end
ok(len(grew) >= 5 and worst <= GAP_S,
   "progress-1.2 the journal grew at most %.1f s apart (%d times in %.1f s; the longest gap "
   "%.2f s)" % (GAP_S, len(grew), t_end, worst), "growths at %s" % ["%.2f" % g for g in grew])
ok(grew and grew[0] <= GAP_S, "progress-1.3 ... and first within %.1f s of the start" % GAP_S,
   "first at %s" % grew[:1])
m = re.findall(r"stexplore: (\d+)/(\d+) points", err)
ok(m and m[-1] == (str(n_all), str(n_all)),
   "progress-1.4 the last progress line counts %d of %d points" % (n_all, n_all), err)

# SIGINT in the dear part: the run stops soon, with status 130, and resumes to the end.
rc, grew, t_end, stop_s, out, err = watch(["--progress", "none", "-o", "int.h5", "jump.lua"],
                                        "int.h5.journal", stop_after=3.0)
ok(rc == 130 and stop_s is not None and stop_s <= GAP_S,
   "progress-2.1 SIGINT in the dear part stops the run within %.1f s with status 130 (%.2f s)" %
   (GAP_S, stop_s or -1), "status %d %s" % (rc, err))
r = subprocess.run([EXP, "--progress", "none", "--resume", "-o", "int.h5", "jump.lua"],
                   capture_output=True, text=True)
ok(r.returncode == 0 and "%d points evaluated (%d ok, %d failed" % (n_all, n_all - n_fail, n_fail)
   in r.stdout, "progress-2.2 ... and --resume completes it", r.stdout + r.stderr)

# Progress counts the points where leaves, not the candidates.
with open("where.lua", "w") as f:
    f.write("""return st.sweep {
  name = "where", network = "fmnist-cnn", eval = "none",
  params = { pe_rows = st.range(1, 300), pe_cols = {4, 8, 16} },
  where = function(pt) return pt.pe_rows % 7 == 0 or pt.pe_cols == 8 end,
}
""")
want = sum(1 for r_ in range(1, 301) for c in (4, 8, 16) if r_ % 7 == 0 or c == 8)
r = subprocess.run([EXP, "--progress", "log", "where.lua"], capture_output=True, text=True)
m = re.findall(r"stexplore: (\d+)/(\d+) points \(([\d.]+)%\)", r.stderr)
ok(r.returncode == 0 and m and m[-1][:2] == (str(want), str(want)) and m[-1][2] == "100.0",
   "progress-3.1 progress counts the %d points that where leaves, not the 900 candidates" % want,
   r.stderr)
ok("%d points evaluated" % want in r.stdout and "%d excluded by where" % (900 - want) in r.stdout,
   "progress-3.2 ... as the summary does", r.stdout)
# A live line too (--progress live), ending at the same count.
r = subprocess.run([EXP, "--progress", "live", "--force", "where.lua"], capture_output=True,
                   text=True)
m = re.findall(r"(\d+)/(\d+) \(([\d.]+)%\)", r.stderr)
ok(r.returncode == 0 and m and m[-1][:2] == (str(want), str(want)),
   "progress-3.3 the live line counts the same", r.stderr[-300:])

# Under mpirun: the live line when mpirun writes to a terminal (script(1) gives it one),
# log lines when it writes to a file.
mpirun, script_cmd = shutil.which("mpirun"), shutil.which("script")
if not mpirun or not script_cmd:
    skip("progress-4.1 the live line under mpirun on a terminal", "no mpirun or script(1)")
    skip("progress-4.2 log lines under mpirun writing to a file", "no mpirun or script(1)")
else:
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_btl_vader_single_copy_mechanism="none")
    # Under AddressSanitizer, Open MPI's own allocations at exit show up as leaks (as in
    # stexplore_mpi.t): leak detection is off for these runs.
    asan = env.get("ASAN_OPTIONS")
    env["ASAN_OPTIONS"] = (asan + ":" if asan else "") + "detect_leaks=0"
    cmd = "%s --oversubscribe -np 2 %s --force where.lua" % (mpirun, EXP)
    # Bytes: text mode would turn the live line's carriage returns into newlines.
    r = subprocess.run([script_cmd, "-qec", cmd, "/dev/null"], capture_output=True, env=env,
                       stdin=subprocess.DEVNULL)
    ok(r.returncode == 0 and b"\r[####################] %d/%d" % (want, want) in r.stdout,
       "progress-4.1 the live line under mpirun on a terminal", r.stdout[-300:])
    r = subprocess.run(cmd.split(), capture_output=True, env=env, stdin=subprocess.DEVNULL)
    ok(r.returncode == 0 and b"\r[" not in r.stderr and
       b"stexplore: %d/%d points" % (want, want) in r.stderr,
       "progress-4.2 log lines under mpirun writing to a file", r.stderr[-300:])
end()
