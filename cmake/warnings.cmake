# One place for compiler warnings, applied per target with parley_warnings(target).
function(parley_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
    -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Woverloaded-virtual
    -Wnull-dereference -Wimplicit-fallthrough)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    # GCC 12 reports -Wrestrict inside libstdc++'s std::string operator+ at -O2/-O3 where nothing
    # overlaps (GCC bug 105329, fixed in 13); as an error it would fail correct code.
    target_compile_options(${target} PRIVATE -Wno-restrict)
  endif()
  if(PARLEY_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
