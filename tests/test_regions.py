"""Paired regions for photo to photo (issue "Photo look transfer"): label images, one colour per
region, pair the photo's regions with the style's; bad or mismatched label images get one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFilter

from conftest import photo_like
from painterly import Options, api
from painterly.core import objective, regions
from painterly.core.presets import with_preset
from painterly.errors import InputImageError
from painterly.frontends.cli import main

RED, BLUE, GREEN = (200, 30, 30), (30, 30, 200), (30, 200, 30)


def halves(size: tuple[int, int], left: tuple, right: tuple, blur: float = 0) -> Image.Image:
    """A label image: `left` colour on the left half, `right` on the right (edges blurred by `blur` px)."""
    image = Image.new("RGB", size, left)
    image.paste(right, (size[0] // 2, 0, size[0], size[1]))
    return image.filter(ImageFilter.GaussianBlur(blur)) if blur else image


def look(size: tuple[int, int]) -> Image.Image:
    """A style photo: red textured left half, blue textured right half."""
    rng = np.random.default_rng(0)
    pixels = np.zeros((size[1], size[0], 3))
    pixels[:, : size[0] // 2] = RED
    pixels[:, size[0] // 2 :] = BLUE
    return Image.fromarray((pixels + rng.normal(0, 12, pixels.shape)).clip(0, 255).astype(np.uint8))


def test_blurred_label_edges_join_the_nearest_label_and_regions_pair_by_colour():
    photo = halves((80, 60), RED, BLUE, blur=2)  # anti-aliased: dozens of in-between colours
    style = halves((100, 50), BLUE, RED)
    pairs = regions.paired(photo, style, (80, 60), (100, 50))
    assert len(pairs) == 2  # every pixel in one of the two regions: no rest
    (photo_red, style_red), (photo_blue, style_blue) = sorted(pairs, key=lambda p: -np.asarray(p[0])[:, 0].mean())
    assert np.asarray(photo_red)[:, :38].all() and not np.asarray(photo_red)[:, 42:].any()
    assert np.asarray(style_red)[:, 52:].all() and not np.asarray(style_red)[:, :48].any()


def test_a_label_only_the_photo_has_takes_the_whole_style():
    pairs = regions.paired(halves((80, 60), RED, GREEN), halves((80, 60), RED, BLUE), (80, 60), (80, 60))
    assert len(pairs) == 2 and np.asarray(pairs[-1][1]).all()  # green pixels: the whole style


@pytest.mark.parametrize(
    ("photo", "style", "message"),
    [
        (halves((80, 60), RED, BLUE), halves((60, 80), RED, BLUE), "the shapes differ"),
        (halves((80, 60), RED, RED), halves((80, 60), BLUE, BLUE), "share no region"),
    ],
)
def test_mismatched_label_images_are_refused_in_one_line(photo, style, message):
    with pytest.raises(InputImageError, match=message):
        regions.paired(photo, style, (80, 60), (80, 60))


def test_labels_need_two_files_and_a_photo_and_style_the_cli_says_so(tmp_path, capsys):
    photo, style, labels = tmp_path / "p.png", tmp_path / "s.png", tmp_path / "l.png"
    photo_like(80, 60).save(photo)
    look((80, 60)).save(style)
    halves((80, 60), RED, BLUE).save(labels)
    assert main([str(photo), str(style), "-o", str(tmp_path / "o.png"), "--labels", str(labels)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("painterly: error:") and "two label images" in err and "\n" not in err
    assert not (tmp_path / "o.png").exists()


def test_each_photo_region_takes_the_look_of_its_style_region(tmp_path):
    """The photo's left half is labelled as the style's red half, its right as the blue half (the style
    has them the other way round in its label image): the output's left half turns red, its right blue;
    without labels the whole style's mix goes everywhere."""
    photo, style, photo_labels, style_labels = (tmp_path / f"{n}.png" for n in ("p", "s", "lp", "ls"))
    photo_like(80, 60).save(photo)
    look((80, 60)).save(style)
    halves((80, 60), GREEN, BLUE).save(photo_labels)
    halves((80, 60), GREEN, BLUE).save(style_labels)  # the style's left (red) is "green", its right "blue"
    options = with_preset("photoreal", {"size": 80, "iterations": 40, "ratio": 1e-3})
    paired = np.asarray(
        api.stylize(str(photo), str(style), options.replace(labels=(str(photo_labels), str(style_labels)))), float
    )
    whole = np.asarray(api.stylize(str(photo), str(style), options), float)
    redness = lambda a: (a[..., 0] - a[..., 2]).mean()  # noqa: E731
    assert redness(paired[:, :36]) > redness(paired[:, 44:]) + 40
    assert abs(redness(whole[:, :36]) - redness(whole[:, 44:])) < redness(paired[:, :36]) - redness(paired[:, 44:])


def test_an_enlarged_style_keeps_its_regions_in_the_fine_layers():
    """A style smaller than the output takes its fine layers' Grams from its own pixels: per region
    too, not the whole style's (the red region's conv1_1 Gram is not the blue one's)."""
    small = look((40, 30))  # enlarged 2x for an 80 px output
    pairs = regions.paired(halves((80, 60), RED, BLUE), halves((40, 30), RED, BLUE), (80, 60), (40, 30))
    target = objective.build(photo_like(80, 60), [small], Options(), (80, 60), torch.device("cpu"), regions=pairs)
    (_, red, red_mass), (_, blue, blue_mass) = target.regions("conv1_1")
    assert not torch.allclose(red / red_mass, blue / blue_mass, rtol=0.05)


def test_the_palette_start_gives_each_photo_region_its_style_regions_colours():
    """The style's red half is labelled as the photo's right half and its blue half as the left (crossed):
    the start image's left half is blue and its right half red; the whole style's palette mixes both."""
    from painterly.core import render

    photo, style = photo_like(80, 60), look((80, 60))
    pairs = regions.paired(halves((80, 60), GREEN, BLUE), halves((80, 60), BLUE, GREEN), photo.size, style.size)
    paired = render.initial_image("palette", photo, [style], None, (80, 60), 0, regions=pairs)[0].numpy() * 255
    whole = render.initial_image("palette", photo, [style], None, (80, 60), 0)[0].numpy() * 255
    blueness = lambda a: (a[2] - a[0]).mean()  # noqa: E731
    assert blueness(paired[:, :, :40]) > 100 and blueness(paired[:, :, 40:]) < -100
    assert abs(blueness(whole[:, :, :40]) - blueness(whole[:, :, 40:])) < 100


def test_the_photoreal_preset_starts_each_region_in_its_partners_colours(tmp_path):
    """No iteration: the result is the start (made locally affine), already in each region's colours."""
    photo, style, photo_labels, style_labels = (tmp_path / f"{n}.png" for n in ("p", "s", "lp", "ls"))
    photo_like(80, 60).save(photo)
    look((80, 60)).save(style)
    halves((80, 60), GREEN, BLUE).save(photo_labels)
    halves((80, 60), BLUE, GREEN).save(style_labels)  # crossed: the photo's left takes the style's blue right
    options = with_preset("photoreal", {"size": 80, "iterations": 0, "labels": (str(photo_labels), str(style_labels))})
    out = np.asarray(api.stylize(str(photo), str(style), options), float)
    blueness = lambda a: (a[..., 2] - a[..., 0]).mean()  # noqa: E731
    assert blueness(out[:, :36]) > 80 and blueness(out[:, 44:]) < -80


def sky_and_ground(size: tuple[int, int], sky: tuple, ground: tuple, seed: int) -> Image.Image:
    """A scene: a smooth sky (a gradient of `sky`) over a textured ground (`ground` with strong grain)."""
    rng = np.random.default_rng(seed)
    w, h = size
    pixels = np.zeros((h, w, 3))
    pixels[: h // 2] = np.array(sky) * np.linspace(0.8, 1.1, h // 2)[:, None, None]
    pixels[h // 2 :] = np.array(ground) + rng.normal(0, 45, (h - h // 2, w, 3))
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


def test_regions_found_without_labels_pair_the_sky_with_the_sky():
    """A day photo and a night photo (other colours, other sizes): their deep features, each
    standardised over its image, cluster sky with sky and ground with ground."""
    from painterly.core import clusters, network

    day = sky_and_ground((96, 72), (110, 160, 230), (60, 150, 60), seed=1)
    night = sky_and_ground((80, 80), (20, 20, 60), (200, 120, 40), seed=2)
    net = network.build(Options(), [clusters.LAYER], torch.device("cpu"))
    pairs, how = clusters.automatic(day, night, 2, net)
    assert len(pairs) == 2 and how == "areas"
    for photo_region, style_region in pairs:
        p, s = np.asarray(photo_region) > 127, np.asarray(style_region) > 127
        photo_sky, style_sky = p[:36].mean() > 0.5, s[:40].mean() > 0.5
        assert photo_sky == style_sky  # both the sky, or both the ground
        assert p[:36].mean() > 0.8 or p[36:].mean() > 0.8  # most of one half


def test_regions_without_labels_reach_the_run_and_labels_win(tmp_path):
    day, night = tmp_path / "day.png", tmp_path / "night.png"
    sky_and_ground((96, 72), (110, 160, 230), (60, 150, 60), seed=1).save(day)
    sky_and_ground((80, 80), (20, 20, 60), (200, 120, 40), seed=2).save(night)
    assert len(api.plan(str(day), str(night), size=64, regions=2).inputs.regions) == 2
    assert api.plan(str(day), str(night), size=64).inputs.regions is None
    labels = tmp_path / "l.png"
    halves((96, 72), RED, BLUE).save(labels)
    style_labels = tmp_path / "sl.png"
    halves((80, 80), BLUE, RED).save(style_labels)
    chosen = api.plan(str(day), str(night), size=64, regions=5, labels=(str(labels), str(style_labels)))
    assert len(chosen.inputs.regions) == 2  # the label images' two regions, not five clusters


def test_the_region_colour_term_moves_each_region_to_its_style_regions_colours(tmp_path):
    """--colour-weight: each photo region's mean colour and colour spread towards its style region's."""
    photo, style, photo_labels, style_labels = (tmp_path / f"{n}.png" for n in ("p", "s", "lp", "ls"))
    photo_like(80, 60).save(photo)
    look((80, 60)).save(style)
    halves((80, 60), GREEN, BLUE).save(photo_labels)
    halves((80, 60), GREEN, BLUE).save(style_labels)
    labels = (str(photo_labels), str(style_labels))  # from the photo: the regional palette start would match already
    options = with_preset("photoreal", {"size": 80, "iterations": 30, "labels": labels, "init": "content"})
    off, on = (
        np.asarray(api.stylize(str(photo), str(style), options.replace(colour_weight=w)), float) for w in (0.0, 1e4)
    )
    red, blue = np.array(RED, float), np.array(BLUE, float)
    miss = lambda a: np.abs(a[:, :36].mean((0, 1)) - red).sum() + np.abs(a[:, 44:].mean((0, 1)) - blue).sum()  # noqa: E731
    assert miss(on) < 0.6 * miss(off)


def test_regions_without_labels_pair_nothing_when_a_photo_is_no_areas_and_the_plan_says_so(tmp_path):
    """A photo of fine speckle has no sky and no ground: its clusters are speckle, and pairing them with
    a sky and a ground would paint the wrong parts; the whole style's look goes everywhere, said."""
    rng = np.random.default_rng(3)
    speckle = tmp_path / "speckle.png"
    Image.fromarray(rng.integers(0, 256, (72, 96, 3), dtype=np.uint8)).save(speckle)
    night = tmp_path / "night.png"
    sky_and_ground((80, 80), (20, 20, 60), (200, 120, 40), seed=2).save(night)
    plan = api.plan(str(speckle), str(night), size=64, regions=2)
    assert plan.inputs.regions is None
    assert any("(--regions 2) found no areas that pair up" in hint for hint in plan.hints + plan.notes)
    day = tmp_path / "day.png"
    sky_and_ground((96, 72), (110, 160, 230), (60, 150, 60), seed=1).save(day)
    assert not any("found no areas" in hint for hint in api.plan(str(day), str(night), size=64, regions=2).hints)


def in_front(size: tuple[int, int], background: np.ndarray, colour: tuple, spots: tuple | None = None) -> Image.Image:
    """An oval object of `colour` (with `spots` of another colour on it, if given) in front of `background`."""
    w, h = size
    image = Image.fromarray(background.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    draw.ellipse(oval(w, h), fill=colour)
    if spots:
        rng = np.random.default_rng(0)
        for x, y in zip(rng.uniform(w * 0.35, w * 0.67, 40), rng.uniform(h * 0.35, h * 0.7, 40)):
            draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=spots)
    return image


def oval(w: int, h: int) -> tuple[float, float, float, float]:
    """The object's bounding box in a `w` x `h` image."""
    return (w * 0.3, h * 0.3, w * 0.72, h * 0.75)


def oval_mask(w: int, h: int) -> np.ndarray:
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).ellipse(oval(w, h), fill=255)
    return np.asarray(mask) > 127


def test_an_object_in_front_of_a_busy_background_pairs_with_the_styles_object(tmp_path):
    """A dark pot in front of a window of light and dark panes: the joint clusters split the panes, not the
    pot from the window (speckle, no areas); the object in front of its frame pairs with the style's blue
    spotted pot on white, object to object, outlines to the pixel, and the plan says so."""
    from painterly.core import clusters, network

    panes = np.kron(np.random.default_rng(1).integers(0, 2, (13, 17)), np.ones((6, 6)))[:72, :96]
    photo = in_front((96, 72), np.where(panes[..., None] > 0, (220, 210, 190), (60, 70, 90)), (70, 40, 30))
    white = 250 + np.random.default_rng(2).normal(0, 6, (70, 90, 3))
    style = in_front((90, 70), white, (30, 40, 160), spots=(230, 230, 250))
    net = network.build(Options(), [clusters.LAYER], torch.device("cpu"))
    pairs, how = clusters.automatic(photo, style, 2, net)
    assert how == "object" and len(pairs) == 2
    overlap = lambda a, b: (a & b).sum() / (a | b).sum()  # noqa: E731
    (photo_object, style_object), *_ = sorted(pairs, key=lambda pair: np.asarray(pair[0]).mean())
    assert overlap(np.asarray(photo_object) > 127, oval_mask(96, 72)) > 0.9
    assert overlap(np.asarray(style_object) > 127, oval_mask(90, 70)) > 0.9
    photo.save(tmp_path / "pot.png")
    style.save(tmp_path / "blue.png")
    plan = api.plan(str(tmp_path / "pot.png"), str(tmp_path / "blue.png"), size=64, regions=2)
    assert plan.inputs.paired_by == "object" and len(plan.inputs.regions) == 2
    assert any("shows an object in front of a background" in hint for hint in plan.hints + plan.notes)
