"""Domain tests are pure: no event loop, no I/O. The scenario helper's asserts get pytest's
rewriting so that a failing ``then`` shows the differing events."""

import pytest

pytest.register_assert_rewrite("tests.domain.scenario")
