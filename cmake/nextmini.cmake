# nextmini_add_unit_test(NAME SOURCES... LIBS... [TEST_PREFIX prefix])
#   Builds a GoogleTest executable and registers each of its tests with CTest (label "unit").
#   TEST_PREFIX, if given, is put before every CTest name (so `ctest -R prefix` selects them).
function(nextmini_add_unit_test name)
  cmake_parse_arguments(ARG "" "TEST_PREFIX" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT NEXTMINI_BUILD_TESTS)
    return()
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main GTest::gmock)
  # Helpers every test may use (tests/support/nextmini/test_support/).
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests/support)
  set(labels unit)
  if(ARG_LABELS)
    set(labels ${ARG_LABELS})
  endif()
  set(prefix_args)
  if(ARG_TEST_PREFIX)
    set(prefix_args TEST_PREFIX ${ARG_TEST_PREFIX})
  endif()
  gtest_discover_tests(${name}
    ${prefix_args}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    PROPERTIES LABELS "${labels}"
    DISCOVERY_TIMEOUT 60)
endfunction()

# nextmini_add_fuzz_target(NAME SOURCE LIBS...)
#   A fuzz target exports LLVMFuzzerTestOneInput. It is always built as a replay executable that
#   runs every file of its corpus folder (so CI exercises it under GCC), and registered with CTest.
#   Built with clang and -DNEXTMINI_LIBFUZZER=ON it becomes a libFuzzer binary instead.
function(nextmini_add_fuzz_target name source corpus)
  cmake_parse_arguments(ARG "" "" "LIBS" ${ARGN})
  if(NOT NEXTMINI_BUILD_TESTS)
    return()
  endif()
  if(NEXTMINI_LIBFUZZER)
    add_executable(${name} ${source})
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  else()
    add_executable(${name} ${source} ${PROJECT_SOURCE_DIR}/fuzz/replay_main.cpp)
  endif()
  target_link_libraries(${name} PRIVATE ${ARG_LIBS})
  add_test(NAME ${name} COMMAND ${name} ${corpus})
  set_tests_properties(${name} PROPERTIES LABELS fuzz)
endfunction()
