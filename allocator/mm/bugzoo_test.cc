#include <gtest/gtest.h>
TEST(BugZooTest, Placeholder) {}
