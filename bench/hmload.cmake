# hmload: the C load generator (bench/README.md). Built with the project; ctest runs only bench_smoke.
add_executable(hmload ${CMAKE_CURRENT_LIST_DIR}/hmload.c)
target_link_libraries(hmload PRIVATE harmony PkgConfig::JANSSON PkgConfig::SODIUM m)
target_compile_definitions(hmload PRIVATE
  HM_BENCH_FLAGS="build=${CMAKE_BUILD_TYPE} sanitize=${HM_SANITIZE}")
# floor: the send() floor (bench/README.md).
add_executable(floor ${CMAKE_CURRENT_LIST_DIR}/floor.c)
target_compile_definitions(floor PRIVATE HM_BENCH_FLAGS="build=${CMAKE_BUILD_TYPE} sanitize=${HM_SANITIZE}")
# The tools still work (tiny workloads, shapes and invariants only; not a benchmark).
add_test(NAME bench_smoke COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/smoke.py ${CMAKE_BINARY_DIR}/bin)
set_tests_properties(bench_smoke PROPERTIES LABELS "e2e" TIMEOUT 300)
