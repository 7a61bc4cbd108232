# Fails when any C++ source under the project's component folders is not clang-formatted.
set(folders common raptorq messages dataplane controller cli tests bench fuzz examples python)
set(sources)
foreach(folder ${folders})
  file(GLOB_RECURSE found ${SOURCE_DIR}/${folder}/*.cpp ${SOURCE_DIR}/${folder}/*.hpp)
  list(APPEND sources ${found})
endforeach()
execute_process(COMMAND ${CLANG_FORMAT} --dry-run --Werror ${sources}
                RESULT_VARIABLE result ERROR_VARIABLE errors)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "clang-format: these files need formatting (run scripts/format.sh):\n${errors}")
endif()
list(LENGTH sources count)
message(STATUS "clang-format: ${count} files are formatted")
