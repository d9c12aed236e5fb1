"""Outcome reasons of one URL: HTTP codes to reasons, which failures are retried, the final flag, the vocabulary."""

from __future__ import annotations

import pytest

from sdstylegan.collect import outcomes
from sdstylegan.collect.outcomes import (
    RETRYABLE,
    TRUNCATED,
    Outcome,
    http_status_reason,
)
from sdstylegan.data import images, manifest


@pytest.mark.parametrize("code", [500, 502, 503, 504, 599])
def test_every_server_error_shares_one_reason(code):
    assert http_status_reason(code) == outcomes.HTTP_5XX == "http_5xx"


@pytest.mark.parametrize("code", [301, 400, 403, 404, 408, 410, 429, 499, 600])
def test_other_codes_keep_their_number(code):
    assert http_status_reason(code) == f"http_{code}"


def test_retried_failures_are_exactly_the_transient_ones():
    assert RETRYABLE == {"timeout", "connection_error", "http_5xx", "http_429", "http_408", "truncated"}
    # the literal HTTP reasons in RETRYABLE are the ones http_status_reason produces
    for code in (408, 429, 500, 503):
        assert Outcome(http_status_reason(code)).retryable
    never = [
        outcomes.OK,
        outcomes.DUPLICATE,
        outcomes.DUPLICATE_URL,
        outcomes.BAD_SCHEME,
        outcomes.BAD_URL,
        outcomes.REDIRECT_LOOP,
        outcomes.REQUEST_ERROR,
        outcomes.LOCAL_READ_ERROR,
        outcomes.INTERNAL_ERROR,
        outcomes.EMPTY,
        outcomes.NOT_IMAGE,
        outcomes.TOO_LARGE,
        outcomes.TOO_SMALL,
        outcomes.UNREADABLE,
        http_status_reason(404),
        http_status_reason(403),
        http_status_reason(410),
    ]
    assert not [s for s in never if Outcome(s).retryable]


def test_a_final_answer_is_never_retried():
    """A complete body that does not decode says `truncated` about the file itself: another try gets the same."""
    assert Outcome(TRUNCATED).retryable  # a body cut off in transit: worth another try
    assert not Outcome(TRUNCATED, final=True).retryable
    assert not Outcome(outcomes.TIMEOUT, final=True).retryable
    assert not Outcome(outcomes.OK).retryable and not Outcome(outcomes.OK, final=True).retryable


def test_retryable_follows_the_status_as_it_changes():
    out = Outcome(outcomes.TIMEOUT, "no answer")
    assert out.retryable
    out.status = outcomes.DUPLICATE  # the collect stage rewrites statuses after the fact
    assert not out.retryable


def test_defaults_and_info_not_shared_between_outcomes():
    a, b = Outcome(outcomes.OK), Outcome(outcomes.OK)
    a.info["attempts"] = 3  # the downloader writes into info
    assert b.info == {}
    assert (a.detail, a.sha256, a.orig_path, a.orig_size, a.source_size, a.retry_after, a.final) == (
        "",
        None,
        None,
        None,
        None,
        None,
        False,
    )


def test_reasons_are_one_vocabulary_with_the_manifest_and_image_checks():
    reasons = {
        name: getattr(outcomes, name) for name in outcomes.__all__ if name.isupper() and name != "RETRYABLE"
    }
    values = list(reasons.values())
    assert len(set(values)) == len(values), "two reasons share one status string"
    assert all(isinstance(v, str) and v == v.lower() and " " not in v for v in values)
    assert reasons["OK"] == manifest.OK and reasons["DUPLICATE"] == manifest.DUPLICATE
    for name in ("EMPTY", "NOT_IMAGE", "TRUNCATED", "TOO_SMALL", "TOO_LARGE", "UNREADABLE"):
        assert reasons[name] == getattr(images, name)
    # no transport reason can be mistaken for an HTTP code's reason
    assert not [v for v in values if v.startswith("http_") and v != outcomes.HTTP_5XX]


def test_everything_exported_exists():
    for name in outcomes.__all__:
        assert hasattr(outcomes, name), name
