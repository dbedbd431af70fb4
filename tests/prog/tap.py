"""tap.py - TAP helpers for the Python tests of the programs (the twin of tap.sh):
where the sources and the programs are (ST_SRC, ST_BUILD), one assertion per ok(), and the
exit status. Imported, not run."""
import os
import sys

SRC = os.environ.get("ST_SRC", ".")
BUILD = os.environ.get("ST_BUILD", os.path.join(SRC, "build"))
BIN = os.path.join(BUILD, "bin")
_n = 0
_failed = 0


def ok(cond, what, diag=""):
    """Print 'ok N - what' or 'not ok N - what' and, on failure, up to 8 lines of diag."""
    global _n, _failed
    _n += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (_n, what))
    if not cond:
        _failed += 1
        for line in str(diag).splitlines()[:8]:
            print("#   " + line)
    return bool(cond)


def skip(what, reason):
    """Count an assertion that is not made, saying why (TAP's # SKIP)."""
    global _n
    _n += 1
    print("ok %d - %s # SKIP %s" % (_n, what, reason))


def end():
    """Exit 1 when an assertion failed, else 0."""
    sys.exit(1 if _failed else 0)


def sanitized():
    """Whether BUILD is the AddressSanitizer build (ST_SANITIZE=ON in its CMake cache)."""
    try:
        with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
            return "ST_SANITIZE:BOOL=ON" in f.read()
    except OSError:
        return False


def normal_build_only(reason):
    """In the sanitizer build, skip the whole file with the reason (tap.sh's twin)."""
    if sanitized():
        print("1..0 # SKIP %s (run on the normal build; this is the sanitizer build)" % reason)
        sys.exit(0)
