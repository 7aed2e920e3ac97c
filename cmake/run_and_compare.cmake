# cmake -DEXE=<program> [-DEXPECTED=<file>] [-DARGS=<a;b;c>] -P run_and_compare.cmake
#
# Runs EXE; fails if it exits non-zero. If EXPECTED names an existing file, stdout must equal
# its contents (line endings normalised to \n; nothing else is forgiven). stderr is passed
# through for diagnostics. Portable: needs nothing but CMake.
cmake_minimum_required(VERSION 3.16)
if(NOT DEFINED EXE)
    message(FATAL_ERROR "run_and_compare.cmake: EXE is not set")
endif()

execute_process(COMMAND "${EXE}" ${ARGS}
                RESULT_VARIABLE rc
                OUTPUT_VARIABLE out
                ERROR_VARIABLE err)
if(err)
    message("---- stderr of ${EXE} ----\n${err}")
endif()
if(NOT rc STREQUAL "0")
    message("---- stdout of ${EXE} ----\n${out}")
    message(FATAL_ERROR "${EXE} exited with '${rc}' (expected 0)")
endif()

if(DEFINED EXPECTED AND EXISTS "${EXPECTED}")
    file(READ "${EXPECTED}" want)
    string(REPLACE "\r\n" "\n" want "${want}")
    string(REPLACE "\r\n" "\n" out "${out}")
    if(NOT out STREQUAL want)
        # Point at the first differing line to make the failure readable.
        string(REPLACE "\n" ";" _out_lines "${out}")
        string(REPLACE "\n" ";" _want_lines "${want}")
        list(LENGTH _out_lines _n_out)
        list(LENGTH _want_lines _n_want)
        set(_i 0)
        set(_first "")
        while(_i LESS _n_out AND _i LESS _n_want)
            list(GET _out_lines ${_i} _a)
            list(GET _want_lines ${_i} _b)
            if(NOT _a STREQUAL _b)
                math(EXPR _line "${_i} + 1")
                set(_first "first difference at line ${_line}:\n  expected: ${_b}\n  actual:   ${_a}\n")
                break()
            endif()
            math(EXPR _i "${_i} + 1")
        endwhile()
        if(NOT _first)
            set(_first "expected ${_n_want} line(s), got ${_n_out}\n")
        endif()
        message("---- expected (${EXPECTED}) ----\n${want}---- actual stdout ----\n${out}----\n${_first}")
        message(FATAL_ERROR "stdout of ${EXE} differs from ${EXPECTED}")
    endif()
    message(STATUS "stdout matches ${EXPECTED}")
else()
    message(STATUS "${EXE} exited 0 (no .expected file to compare)")
endif()
