# cmake -DBUILD_DIR=<build tree> -DPREFIX=<prefix> -P install_fresh.cmake
# Installs a build tree into an emptied prefix (stale files from an earlier run cannot hide a
# missing install rule).
foreach(_v BUILD_DIR PREFIX)
    if(NOT DEFINED ${_v})
        message(FATAL_ERROR "install_fresh.cmake: ${_v} is not set")
    endif()
endforeach()
file(REMOVE_RECURSE "${PREFIX}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}"
                RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "cmake --install failed (${_rc})")
endif()
