from __future__ import annotations

import pytest

from wheelship.commands._common import check_one_tag_pattern
from wheelship.errors import ConfigurationError

FILE = r"^fc-v(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)$"


def test_the_templates_pattern_and_the_files_must_be_one_pattern() -> None:
    check_one_tag_pattern({"tag-pattern": FILE}, {"WHEELSHIP_TAG_PATTERN": f"/{FILE}/"})
    check_one_tag_pattern({"tag-pattern": FILE}, {})
    check_one_tag_pattern({}, {"WHEELSHIP_TAG_PATTERN": "/^v(?P<major>.)$/"})
    with pytest.raises(ConfigurationError) as caught:
        check_one_tag_pattern({"tag-pattern": FILE}, {"WHEELSHIP_TAG_PATTERN": "/^v.*$/"})
    assert "set the release-tag-pattern input to the pattern between slashes" in caught.value.fix
