"""The photorealism term (issue "Photo look transfer"): the matting Laplacian applied by box filters is
the matrix of Levin et al., its gradient is 2 M V, and it tells a recoloured photo from a painted one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import artwork_like, photo_like
from painterly import Options, api
from painterly.core.matting import Matting, locally_affine
from painterly.errors import OptionsError
from painterly.media import images


def dense_laplacian(photo: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Levin et al.'s matting Laplacian of `photo` [H,W,3] as a dense [HW,HW] matrix, window by window."""
    h, w, _ = photo.shape
    n = (2 * radius + 1) ** 2
    laplacian = np.zeros((h * w, h * w))
    index = np.arange(h * w).reshape(h, w)
    for y in range(radius, h - radius):
        for x in range(radius, w - radius):
            window = index[y - radius : y + radius + 1, x - radius : x + radius + 1].ravel()
            colours = photo.reshape(-1, 3)[window]
            centred = colours - colours.mean(0)
            inverse = np.linalg.inv(centred.T @ centred / n + eps / n * np.eye(3))
            laplacian[np.ix_(window, window)] += np.eye(n) - (1 + centred @ inverse @ centred.T) / n
    return laplacian


@pytest.mark.parametrize("radius", [1, 2])
def test_the_box_filter_term_and_its_gradient_match_the_dense_matrix(radius):
    generator = torch.Generator().manual_seed(3)
    photo = torch.rand(1, 3, 9, 11, generator=generator, dtype=torch.float64)
    image = torch.rand(1, 3, 9, 11, generator=generator, dtype=torch.float64, requires_grad=True)
    eps = 1e-4
    dense = torch.from_numpy(dense_laplacian(photo[0].permute(1, 2, 0).numpy(), radius, eps))
    term = Matting(photo, radius=radius, eps=eps)
    loss = (image[0] * term.apply(image[0])).sum()
    loss.backward()
    flat = image.detach()[0].reshape(3, -1)
    assert float(loss.detach()) == pytest.approx(float(sum(v @ dense @ v for v in flat)), rel=1e-6)
    expected = torch.stack([2 * dense @ v for v in flat]).reshape(image.shape)
    torch.testing.assert_close(image.grad, expected, rtol=1e-6, atol=1e-8)


def test_a_recoloured_photo_costs_nothing_and_a_painted_one_a_lot():
    generator = torch.Generator().manual_seed(5)
    photo = torch.rand(1, 3, 40, 48, generator=generator)
    term = Matting(photo)
    recoloured = (0.6 * photo.flip(1) + 0.2).clamp(0, 1)  # channels swapped, darker: an affine recolouring
    painted = (photo + 0.1 * torch.rand(photo.shape, generator=generator)).clamp(0, 1)  # a speckle added
    assert float(term.loss(recoloured)) < 1e-3 * float(term.loss(painted))
    assert float(term.loss(painted)) > 0


def test_the_photo_weight_keeps_a_run_a_recoloured_photo(tmp_path):
    """--photo-weight: the same short photo-to-photo run ends much nearer a locally affine recolouring
    of the photo (the term's own energy on the result), and off by default."""

    photo, look = tmp_path / "photo.png", tmp_path / "look.png"
    photo_like(96, 72).save(photo)
    artwork_like(96, 96).save(look)
    assert Options().photo_weight == 0
    energy = {}
    for w in (0.0, 1e9):
        out = api.stylize(str(photo), str(look), size=96, iterations=30, init="content", ratio=1e-3, photo_weight=w)
        term = Matting(images.to_tensor(images.load(str(photo), "photo").resize(out.size)))
        energy[w] = float(term.loss(images.to_tensor(out)))
    assert energy[1e9] < 0.5 * energy[0.0]


def test_the_affine_projection_keeps_a_recoloured_photo_and_removes_painted_texture():
    """`locally_affine`: a photo recoloured stays as it is; a stroke texture the photo's colours cannot
    explain is mostly gone, while the recolouring (the look) stays."""
    photo = images.to_tensor(photo_like(64, 48))
    recoloured = (0.6 * photo.flip(1) + 0.2).clamp(0, 1)
    kept = locally_affine(recoloured, photo, radius=3)
    assert float((kept - recoloured).abs().mean()) < 2 / 255
    strokes = 0.08 * torch.sin(torch.arange(64.0) * 1.3)[None, None, None, :] * torch.ones(1, 3, 48, 1)
    painted = (recoloured + strokes).clamp(0, 1)
    projected = locally_affine(painted, photo, radius=3)
    assert float((projected - recoloured).abs().mean()) < 0.3 * float((painted - recoloured).abs().mean())
    assert projected.shape == painted.shape and projected.dtype == painted.dtype


def test_affine_radius_ends_a_run_with_a_recoloured_photo_and_says_so(tmp_path):
    photo, look = tmp_path / "photo.png", tmp_path / "look.png"
    photo_like(96, 72).save(photo)
    artwork_like(96, 96).save(look)
    assert Options().affine_radius == 0
    steps = list(api.stylize_iter(str(photo), str(look), size=96, iterations=6, init="content", affine_radius=3))
    assert "locally affine recolouring of the photo" in steps[-1].note
    term = Matting(images.to_tensor(images.load(str(photo), "photo").resize((96, 72))))
    assert float(term.loss(steps[-1].image)) < 0.5 * float(term.loss(steps[-2].image))
    with pytest.raises(OptionsError, match="affine-radius must be from 0 to 16, got -1"):
        Options(affine_radius=-1).validate()


def test_the_projection_takes_the_photos_detail_to_the_output_size_without_the_network(tmp_path):
    """With `affine_radius` the output's own rung runs no network: the rung below, upsampled and made a
    locally affine recolouring of the full-size photo, has the photo's edges at full size (guided
    upsampling), and the plan says so."""
    from painterly.core.render import at_output_size

    photo, look = tmp_path / "photo.png", tmp_path / "look.png"
    photo_like(256, 192).save(photo)
    artwork_like(128, 128).save(look)
    plan = api.plan(str(photo), str(look), size=256, min_scale=128, iterations=12, init="content", affine_radius=3)
    *run, top = plan.scales
    assert top.size == (256, 192) and top.iterations == 0 and sum(s.iterations for s in run) == 12
    assert "the rung below upsampled, made a locally affine recolouring of the photo" in plan.describe()[-2]
    steps = list(api.render(plan))
    assert {s.side for s in steps[:-1]} == {s.side for s in run}  # no step on the output's rung
    assert steps[-1].image.shape[-2:] == (192, 256) and "time budget" not in steps[-1].note

    def edges(image: torch.Tensor) -> np.ndarray:
        grey = image[0].mean(0).numpy()
        return np.hypot(np.diff(grey, axis=0)[:, :-1], np.diff(grey, axis=1)[:-1]).ravel()

    truth = edges(images.to_tensor(photo_like(256, 192)))
    upsampled, _ = at_output_size(steps[-2].image, (256, 192))
    plain, projected = (np.corrcoef(truth, edges(x))[0, 1] for x in (upsampled, steps[-1].image))
    assert projected > plain + 0.05, (plain, projected)
