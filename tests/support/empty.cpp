// Keeps qjit_test_support non-empty while support/ grows.
