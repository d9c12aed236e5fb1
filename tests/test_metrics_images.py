"""Image batch checks: the canonical uint8 format and clear errors for wrong input."""

import pytest
import torch

from sdstylegan.metrics.images import ImageFormatError, check_batch, to_uint8


def test_float_images_quantise_like_png():
    x = torch.tensor([-1.0, -0.5, 0.0, 0.5, 1.0, 1.3, -1.2]).view(1, 1, 1, 7).expand(1, 3, 1, 7)
    u8 = to_uint8(x)
    assert u8.dtype == torch.uint8 and u8.shape == (1, 3, 1, 7)
    assert u8[0, 0, 0].tolist() == [0, 64, 128, 191, 255, 255, 0]  # round(x·127.5 + 127.5), clamped


def test_uint8_passes_through_and_grayscale_becomes_rgb():
    x = torch.randint(0, 256, (2, 1, 4, 4), dtype=torch.uint8)
    u8 = to_uint8(x)
    assert u8.shape == (2, 3, 4, 4)
    assert torch.equal(u8[:, 0], x[:, 0]) and torch.equal(u8[:, 2], x[:, 0])


@pytest.mark.parametrize(
    "bad, words",
    [
        (torch.full((1, 3, 4, 4), 200.0), "[-1, 1]"),  # [0, 255] floats
        (torch.full((1, 3, 4, 4), float("nan")), "NaN"),
        (torch.zeros(1, 3, 4, 4, dtype=torch.int16), "dtype"),
        (torch.zeros(3, 4, 4), "NCHW"),
        (torch.zeros(1, 4, 4, 4), "channels"),
        (torch.zeros(0, 3, 4, 4), "empty"),
    ],
)
def test_bad_batches_are_rejected_with_a_reason(bad, words):
    with pytest.raises(ImageFormatError, match=words.replace("[", r"\[").replace("]", r"\]")):
        check_batch(bad, "generated images")


def test_error_names_the_batch():
    with pytest.raises(ImageFormatError, match="real images"):
        check_batch([1, 2, 3], "real images")
