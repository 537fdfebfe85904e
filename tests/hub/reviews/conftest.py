"""The review-request fixtures (tests/shared/reviews), here under the hub's settings."""

from tests.shared.reviews.conftest import *  # noqa: F403
