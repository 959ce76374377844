// Boost.JSON's implementation, compiled once into the integration test binary (the library is
// used header-only here: the tests read parley-cert's --json output with <boost/json.hpp>).
// Only this file may include <boost/json/src.hpp>; a second copy would define every symbol twice.
#include <boost/json/src.hpp>
