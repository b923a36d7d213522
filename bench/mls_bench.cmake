# mls_bench: client-side simplified-MLS cost (bench/README.md "MLS (client side)"). Never run by ctest.
add_executable(mls_bench ${CMAKE_CURRENT_LIST_DIR}/mls_bench.c)
target_link_libraries(mls_bench PRIVATE harmony PkgConfig::SODIUM)
target_compile_definitions(mls_bench PRIVATE HM_BENCH_FLAGS="build=${CMAKE_BUILD_TYPE} sanitize=${HM_SANITIZE}")
