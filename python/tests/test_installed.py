"""When scripts/test-python.sh runs the suite, it must exercise the installed wheel, not the source tree."""

import os

import pytest

import qjit


@pytest.mark.skipif(os.environ.get("QJIT_TEST_INSTALLED") != "1", reason="set by scripts/test-python.sh only")
def test_the_installed_package_is_under_test():
    assert "site-packages" in qjit.__file__, qjit.__file__
    assert qjit.library_path() == qjit._capi.bundled_library_path()
