# startup_fill: fills a data dir through the store API for bench/startup. Never run by ctest.
add_executable(startup_fill ${CMAKE_CURRENT_LIST_DIR}/startup_fill.c)
target_link_libraries(startup_fill PRIVATE harmony)
