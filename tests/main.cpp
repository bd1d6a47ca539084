#define BOOST_TEST_MODULE selfsup
#include <boost/test/unit_test.hpp>
