#!/usr/bin/python3
# docs_run.t - the commands of README.md and docs/*.md run, in the order written, in a
# fresh copy of the repository (its tracked files; build/ is $ST_BUILD), so that the docs
# cannot drift from the programs. A ```sh block is a command block and runs; output and
# illustrations are ``` or ```text blocks and do not. A block preceded by the line
# <!-- docs-run: skip REASON --> does not run (long benchmarks, cluster jobs, the whole
# suite) and is reported as skipped with its reason. Also: every relative link of those
# files names a file that is in the repository.
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import BUILD, SRC, end, ok, sanitized, skip  # noqa: E402

SKIP = re.compile(r"^<!--\s*docs-run:\s*skip\s+(.*?)\s*-->\s*$")
BLOCK_S = 60  # no one block may take longer


def blocks(path, rel):
    """The fenced blocks of a Markdown file: (line, language, text, skip reason or None)."""
    out, lang, start, body, skip, prev = [], None, 0, [], None, ""
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            s = line.rstrip("\n")
            if lang is None and s.startswith("```"):
                lang, start, body = s[3:].strip(), n, []
                m = SKIP.match(prev)
                skip = m.group(1) if m else None
            elif lang is not None and s.startswith("```"):
                out.append((start, lang, "\n".join(body) + "\n", skip))
                lang = None
            elif lang is not None:
                body.append(s)
            if s.strip():
                prev = s
    return out


def tracked_files():
    r = subprocess.run(["git", "-C", SRC, "ls-files", "-z"], capture_output=True)
    if r.returncode != 0:
        return None
    return [p for p in r.stdout.decode().split("\0") if p]


if sanitized():
    # The docs' commands are checked for drift with the normal build; under the sanitizer
    # they take minutes (stsim resnet50 alone, a minute), past this test's budget.
    print("1..1")
    skip("docs-run", "the sanitizer build: the docs' commands run with the normal build")
    end()
files = tracked_files()
if files is None:
    print("1..1")
    skip("docs-run", "%s is not a git checkout: no list of the repository's files" % SRC)
    end()
docs = ["README.md"] + sorted(p for p in files if re.match(r"^docs/[^/]+\.md$", p))
todo = []
for d in docs:
    for line, lang, text, why in blocks(os.path.join(SRC, d), d):
        if lang == "sh":
            todo.append((d, line, text, why))
print("1..%d" % (len(todo) + 2))

# A fresh copy: the tracked files only (no results/, no journals), build/ is $ST_BUILD.
tmp = tempfile.mkdtemp()
repo = os.path.join(tmp, "repo")
for p in files:
    src = os.path.join(SRC, p)
    if not os.path.isfile(src):
        continue  # deleted in the working tree
    dst = os.path.join(repo, p)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copy2(src, dst)
os.symlink(os.path.abspath(BUILD), os.path.join(repo, "build"))
env = dict(os.environ)
if os.geteuid() == 0:  # what the docs tell root to add, for mpirun
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
env.setdefault("MPLBACKEND", "Agg")
env.setdefault("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
# Under AddressSanitizer, Open MPI's own allocations at exit show up as leaks (as in
# stexplore_mpi.t): leak detection is off for the docs' commands, which mpirun some.
env["ASAN_OPTIONS"] = (env["ASAN_OPTIONS"] + ":" if env.get("ASAN_OPTIONS") else "") + \
    "detect_leaks=0"

t_all = time.monotonic()
for d, line, text, reason in todo:
    what = "docs-run %s:%d %s" % (d, line, text.strip().splitlines()[0][:60])
    if reason:
        skip(what, reason)
        continue
    t0 = time.monotonic()
    try:
        r = subprocess.run(["sh", "-e", "-c", text], cwd=repo, env=env, capture_output=True,
                           text=True, timeout=BLOCK_S)
        status, err = r.returncode, r.stderr
    except subprocess.TimeoutExpired:
        status, err = -1, "did not finish in %d s" % BLOCK_S
    ok(status == 0, "%s (%.1f s)" % (what, time.monotonic() - t0),
       "status %d\n%s" % (status, err[-800:]))
print("# the blocks took %.1f s" % (time.monotonic() - t_all))

# Links: every relative link of the docs names a file of the repository.
missing = []
tracked = set(files)
for d in docs + [p for p in files if p.endswith("README.md") and p != "README.md"]:
    with open(os.path.join(SRC, d), encoding="utf-8") as f:
        text = f.read()
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if re.match(r"^[a-z]+:", target):
            continue
        p = os.path.normpath(os.path.join(os.path.dirname(d), target))
        if p not in tracked and not any(t.startswith(p + "/") for t in tracked):
            missing.append("%s: %s" % (d, target))
ok(not missing, "docs-run-links every relative link in README.md, docs/ and the READMEs "
   "names a file in the repository", "\n".join(missing))
gone = []
for d in docs:
    with open(os.path.join(SRC, d), encoding="utf-8") as f:
        if "DESIGN.md" in f.read():
            gone.append(d)
ok(not gone, "docs-run-design no doc refers to DESIGN.md, which is not in the repository",
   gone)
shutil.rmtree(tmp, ignore_errors=True)
end()
