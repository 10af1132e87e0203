"""The commit-msg hook's rules (CONTRIBUTING.md)."""

from __future__ import annotations

from devtools.commit_msg import problems


def test_a_short_subject_a_blank_line_and_a_body_pass() -> None:
    assert problems("Serve: evaluate request models eagerly\n\nFastAPI 0.137 stopped ...\n") == []


def test_git_comment_lines_are_ignored() -> None:
    assert problems("Fix the lock\n\nWhy.\n# Please enter the commit message\n#\n") == []


def test_a_long_subject_fails() -> None:
    assert problems("x" * 73 + "\n\nbody\n") == ["the subject has 73 characters; at most 72"]


def test_a_subject_alone_or_glued_to_its_body_fails() -> None:
    assert problems("Subject only\n") == ["the subject needs a blank line, then a body that says why"]
    assert problems("Subject\nbody right below\n") == [
        "the subject needs a blank line, then a body that says why"
    ]


def test_an_empty_message_fails() -> None:
    assert problems("# only comments\n") == ["the subject is empty"]
