# Run at every build (cmake -P): write the git revision of the source tree SRC
# into the header OUT, only when it changed, so that a rebuild after a pull
# or an edit records the revision the programs are built from.
execute_process(COMMAND git describe --always --dirty --abbrev=12
                WORKING_DIRECTORY ${SRC}
                OUTPUT_VARIABLE rev OUTPUT_STRIP_TRAILING_WHITESPACE
                ERROR_QUIET)
if(NOT rev)
  set(rev "unknown")
endif()
set(text "#define EX_GIT_REVISION \"${rev}\"\n")
set(old "")
if(EXISTS ${OUT})
  file(READ ${OUT} old)
endif()
if(NOT old STREQUAL text)
  file(WRITE ${OUT} "${text}")
endif()
